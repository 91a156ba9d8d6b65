/*
 * mod_h5s3: the module record and every hook it registers.
 *
 * Start-up: directives are parsed (glue/config.c), check_config refuses a
 * bad configuration, post_config sets up shared state before the
 * children fork, child_init creates what belongs to one process (curl
 * handles, S3 clients); glue/state.c owns that lifecycle and the state it
 * sets up.  A request: header_parser answers CORS preflights, the
 * translate_name and map_to_storage hooks keep core from mapping h5s3
 * URLs to files, the handler routes (glue/router.c), log_transaction
 * counts it for /server-status.
 */
#include <mod_status.h>

#include "glue/h5s3_glue.h"

/* AP_DECLARE_MODULE below also declares APLOG_USE_MODULE(h5s3). */

static void register_hooks(apr_pool_t *p)
{
    /* Lifecycle (glue/state.c). */
    ap_hook_pre_config(h5s3_state_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_config(h5s3_state_check_config, NULL, NULL,
                         APR_HOOK_MIDDLE);
    ap_hook_post_config(h5s3_state_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(h5s3_state_child_init, NULL, NULL, APR_HOOK_MIDDLE);

    /*
     * CORS (glue/ops/cors.c): first, before any authentication, since
     * browsers send preflights without credentials.
     */
    ap_hook_header_parser(h5s3_cors_header_parser, NULL, NULL,
                          APR_HOOK_FIRST);
    /* Routing (glue/router.c): after mod_alias and mod_rewrite, before
     * core. */
    ap_hook_translate_name(h5s3_translate_name, NULL, NULL, APR_HOOK_LAST);
    ap_hook_map_to_storage(h5s3_map_to_storage, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(h5s3_handler, NULL, NULL, APR_HOOK_MIDDLE);

    /* The /server-status section (glue/ops/server_status.c). */
    ap_hook_log_transaction(h5s3_server_status_log_transaction, NULL, NULL,
                            APR_HOOK_MIDDLE);
    APR_OPTIONAL_HOOK(ap, status_hook, h5s3_server_status_hook, NULL, NULL,
                      APR_HOOK_MIDDLE);
}

AP_DECLARE_MODULE(h5s3) = {
    STANDARD20_MODULE_STUFF,
    h5s3_create_dir_conf,
    h5s3_merge_dir_conf,
    h5s3_create_srv_conf,
    h5s3_merge_srv_conf,
    h5s3_directives,
    register_hooks
};

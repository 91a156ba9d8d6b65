/*
 * mod_h5s3: the module record and its hooks.  Start-up order: directives
 * are parsed (glue/config.c), check_config refuses a bad configuration,
 * post_config sets up shared state before the children fork, child_init
 * creates what belongs to one process (curl handles, S3 clients); the
 * lifecycle and the state it sets up are glue/state.c's.
 */
#include "glue/h5s3_glue.h"

/* AP_DECLARE_MODULE below also declares APLOG_USE_MODULE(h5s3). */

static void register_hooks(apr_pool_t *p)
{
    ap_hook_pre_config(h5s3_state_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_config(h5s3_state_check_config, NULL, NULL,
                         APR_HOOK_MIDDLE);
    ap_hook_post_config(h5s3_state_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(h5s3_state_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(h5s3_handler, NULL, NULL, APR_HOOK_MIDDLE);
    /* After mod_alias and mod_rewrite, before core. */
    ap_hook_translate_name(h5s3_translate_name, NULL, NULL, APR_HOOK_LAST);
    ap_hook_map_to_storage(h5s3_map_to_storage, NULL, NULL, APR_HOOK_MIDDLE);
    h5s3_cors_register_hooks(p);
    h5s3_server_status_register_hooks(p);
    h5s3_logformat_register_hooks(p);
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

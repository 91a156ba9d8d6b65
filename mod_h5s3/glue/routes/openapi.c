/*
 * GET /openapi.yaml: the OpenAPI document of every route, as built into
 * the module from the repository's openapi.yaml (Makefile.am embeds it
 * with scripts/embed-text.awk), so what is served is exactly what the
 * test suite validates responses against.
 */
#include "glue/h5s3_glue.h"

/* Generated: mod_h5s3/glue/routes/openapi_doc.c. */
extern const char h5s3_openapi_yaml[];
extern const size_t h5s3_openapi_yaml_len;

int h5s3_route_openapi(h5s3_req *q, const char *key)
{
    (void)key;
    return h5s3_send_body(q, HTTP_OK, "application/yaml", h5s3_openapi_yaml,
                          h5s3_openapi_yaml_len);
}

/*
 * Reals in JSON trees (see include/json/h5s3_json.h): Python's repr() of
 * a double as a raw number (json_real would write "%.17g"), and null for
 * NaN and infinities, which JSON cannot hold.
 */
#include <math.h>
#include <stdlib.h>
#include "json/h5s3_json.h"
#include "json/h5s3_json_numbers.h"

json_t *h5s3_json_real_repr(double v, apr_pool_t *p)
{
    char *text;

    if (!isfinite(v)) {
        return json_null();
    }
    text = malloc(H5S3_NUM_TEXT_MAX);
    if (text == NULL) {
        return NULL;
    }
    return h5s3_json_raw(text, h5s3_num_py_repr(text, v), p);
}

void h5s3_json_reals_repr(json_t *j, apr_pool_t *p)
{
    const char *key;
    json_t *v;
    size_t i;

    if (json_is_object(j)) {
        json_object_foreach(j, key, v) {
            if (json_is_real(v)) {
                json_object_set_new(j, key, h5s3_json_real_repr(
                    json_real_value(v), p));
            }
            else {
                h5s3_json_reals_repr(v, p);
            }
        }
    }
    else if (json_is_array(j)) {
        json_array_foreach(j, i, v) {
            if (json_is_real(v)) {
                json_array_set_new(j, i, h5s3_json_real_repr(
                    json_real_value(v), p));
            }
            else {
                h5s3_json_reals_repr(v, p);
            }
        }
    }
}

json_t *h5s3_json_real_or_null(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

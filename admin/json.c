/*
 * json.c - jansson getters for request bodies whose errors name the failing field.
 *
 * Owns: the wording of every "field X must be ..." message the admin API sends.
 * Must not touch: the store or HTTP; callers turn a false return into a 400.
 *
 * Reference rules: adm_json_parse_object() hands out a new reference; every getter reads
 * borrowed values and never changes a reference count.
 */
#include "config.h"

#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "admin/adm_int.h"

bool adm_json_parse_object(const char *body, size_t len, json_t **out, char *err, size_t errlen)
{
	json_error_t je;
	json_t *v; /* new reference */

	*out = NULL;
	if (len == 0) {
		snprintf(err, errlen, "request body must be a JSON object");
		return false;
	}
	v = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
	if (!v) {
		snprintf(err, errlen, "request body is not valid JSON (line %d, column %d): %s",
		         je.line, je.column, je.text);
		return false;
	}
	if (!json_is_object(v)) {
		json_decref(v);
		snprintf(err, errlen, "request body must be a JSON object");
		return false;
	}
	*out = v;
	return true;
}

bool adm_json_check_fields(json_t *obj, const char *const *allowed, char *err, size_t errlen)
{
	const char *key;
	json_t *val; /* borrowed */

	json_object_foreach(obj, key, val)
	{
		bool known = false;

		for (const char *const *a = allowed; *a; a++) {
			if (strcmp(key, *a) == 0) {
				known = true;
				break;
			}
		}
		if (!known) {
			/* %.64s: the key comes from the client; keep the message bounded. */
			snprintf(err, errlen, "unknown field \"%.64s\"", key);
			return false;
		}
	}
	return true;
}

bool adm_json_parse_named(const char *body, size_t len, const char *const *allowed,
                          const char *url_name, const char *what, json_t **obj, const char **name,
                          char *err, size_t errlen)
{
	bool present;

	if (!adm_json_parse_object(body, len, obj, err, errlen))
		return false;
	if (!adm_json_check_fields(*obj, allowed, err, errlen) ||
	    !adm_json_get_string(*obj, "name", STORE_NAME_MAX, name, &present, err, errlen))
		goto bad;
	if (!url_name) {
		if (present)
			return true;
		snprintf(err, errlen, "name is required");
		goto bad;
	}
	if (present && strcmp(*name, url_name) != 0) {
		snprintf(err, errlen, "name cannot be changed; delete the %s and create it again",
		         what);
		goto bad;
	}
	*name = url_name;
	return true;
bad:
	json_decref(*obj);
	*obj = NULL;
	return false;
}

/* obj's value for key (borrowed; NULL when absent), and *present says which. */
static json_t *adm_json_member(json_t *obj, const char *key, bool *present)
{
	json_t *v = json_object_get(obj, key); /* borrowed */

	*present = v != NULL;
	return v;
}

/* printf the message for a bad field into err. Returns false so that the getters read
 * "return adm_json_bad(...)". */
static bool adm_json_bad(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool adm_json_bad(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return false;
}

bool adm_json_get_u32(json_t *obj, const char *key, uint32_t min, uint32_t max, uint32_t *out,
                      bool *present, char *err, size_t errlen)
{
	json_t *v = adm_json_member(obj, key, present); /* borrowed */
	json_int_t n;

	if (!v)
		return true;
	if (!json_is_integer(v))
		return adm_json_bad(err, errlen,
		                    "%s must be an integer between %" PRIu32 " and %" PRIu32, key,
		                    min, max);
	n = json_integer_value(v);
	if (n < (json_int_t)min || n > (json_int_t)max)
		return adm_json_bad(err, errlen, "%s must be between %" PRIu32 " and %" PRIu32, key,
		                    min, max);
	*out = (uint32_t)n;
	return true;
}

bool adm_json_get_string(json_t *obj, const char *key, size_t maxlen, const char **out,
                         bool *present, char *err, size_t errlen)
{
	json_t *v = adm_json_member(obj, key, present); /* borrowed */

	if (!v)
		return true;
	if (!json_is_string(v))
		return adm_json_bad(err, errlen, "%s must be a string", key);
	if (json_string_length(v) > maxlen)
		return adm_json_bad(err, errlen, "%s must be at most %zu bytes long", key, maxlen);
	*out = json_string_value(v);
	return true;
}

bool adm_json_get_bool(json_t *obj, const char *key, bool *out, bool *present, char *err,
                       size_t errlen)
{
	json_t *v = adm_json_member(obj, key, present); /* borrowed */

	if (!v)
		return true;
	if (!json_is_boolean(v))
		return adm_json_bad(err, errlen, "%s must be true or false", key);
	*out = json_is_true(v);
	return true;
}

#if JSON_INTEGER_IS_LONG_LONG
#define ADM_JSON_INT_MAX LLONG_MAX
#else
#define ADM_JSON_INT_MAX LONG_MAX
#endif

json_t *adm_json_u64(uint64_t v)
{
	return json_integer(v > (uint64_t)ADM_JSON_INT_MAX ? ADM_JSON_INT_MAX : (json_int_t)v);
}

json_t *adm_json_real(double v)
{
	return json_real(isfinite(v) ? v : 0.0);
}

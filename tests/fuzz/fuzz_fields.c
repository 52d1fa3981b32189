/*
 * The member reader the handler reads watcherd's replies with
 * (common/fields.c), against json-c: on any bytes it must read nothing
 * past them (the input is handed over in a buffer of exactly its size);
 * on a JSON object that json-c parses and whose keys are plain and
 * unique, it must find every member json-c finds, with a value text that
 * parses to the same value, and no member json-c does not have; its
 * integers and words must agree with that value.
 */
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "common/fields.h"
#include "tests/fuzz/harness.h"

/* Keys the seeds and the dictionary use, and one nobody does. */
static const char *const keys[] = { "ok", "checksum", "size", "mtime",
    "payload", "event", "error", "detail", "encoding", "nope" };

/* Parses exactly len bytes as one JSON value, strictly (json-c alone
   also takes single quotes, comments and the like, which watcherd never
   writes); NULL when they are not one. */
static struct json_object *
strict_parse(const char *s, size_t len)
{
	struct json_tokener *tok = json_tokener_new_ex(32);
	struct json_object *o;
	char *buf;

	if (tok == NULL || (buf = malloc(len + 1)) == NULL)
		fuzz_fail("out of memory");
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	memcpy(buf, s, len);
	buf[len] = ' ';
	o = json_tokener_parse_ex(tok, buf, (int)len + 1);
	if (o != NULL && json_tokener_get_parse_end(tok) < len) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	free(buf);
	return o;
}

/* Whether every key of o is plain (no escapes in its JSON text) and
   appears once in the text: then a raw compare is fair. */
static int
plain_unique_keys(struct json_object *o, const char *text, size_t len)
{
	char quoted[300];
	size_t n;

	json_object_object_foreach(o, key, val) {
		(void)val;
		n = strlen(key);
		if (n + 3 > sizeof(quoted) ||
		    strspn(key, "abcdefghijklmnopqrstuvwxyz_") != n)
			return 0;
		quoted[0] = '"';
		memcpy(quoted + 1, key, n);
		quoted[n + 1] = '"';
		quoted[n + 2] = '\0';
		/* A key's quoted text also found as a value would make the
		   count ambiguous: count it in the text and require one. */
		{
			const char *p = text, *end = text + len;
			int count = 0;

			while (p < end && (p = memmem(p, (size_t)(end - p),
			    quoted, n + 2)) != NULL) {
				count++;
				p += n + 2;
			}
			if (count != 1)
				return 0;
		}
	}
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_object *o, *want, *got;
	char *line, word[64];
	const char *v;
	long long n;
	size_t i, vlen;
	int r;

	if ((line = malloc(size ? size : 1)) == NULL)
		return 0;
	memcpy(line, data, size);
	o = strict_parse(line, size);
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		r = fields_get(line, size, keys[i], &v, &vlen);
		(void)fields_int(line, size, keys[i], &n);
		(void)fields_word(line, size, keys[i], word, sizeof(word));
		if (o == NULL || !json_object_is_type(o, json_type_object) ||
		    !plain_unique_keys(o, line, size))
			continue;
		FUZZ_CHECK(r != -1, "a JSON object json-c reads is malformed "
		    "to fields_get (key %s)", keys[i]);
		FUZZ_CHECK(r == json_object_object_get_ex(o, keys[i], &want),
		    "fields_get and json-c disagree on whether %s is there",
		    keys[i]);
		if (r != 1)
			continue;
		got = strict_parse(v, vlen);
		FUZZ_CHECK(got != NULL || want == NULL,
		    "the value text of %s does not parse", keys[i]);
		FUZZ_CHECK(json_object_equal(got, want),
		    "the value of %s differs from json-c's", keys[i]);
		if (fields_int(line, size, keys[i], &n) == 0)
			FUZZ_CHECK(json_object_is_type(want, json_type_int) &&
			    json_object_get_int64(want) == n,
			    "fields_int of %s is not json-c's integer", keys[i]);
		if (fields_word(line, size, keys[i], word, sizeof(word)) == 0)
			FUZZ_CHECK(json_object_is_type(want, json_type_string) &&
			    strcmp(json_object_get_string(want), word) == 0,
			    "fields_word of %s is not json-c's string", keys[i]);
		json_object_put(got);
	}
	json_object_put(o);
	free(line);
	return 0;
}

/*
 * watcherctl write (see write.h). Without --if the checksum is asked for
 * first, on the same connection: the write is then only kept from
 * overwriting a change made between the two requests, and is otherwise
 * blind. The request carries no "user": watcherd trusts its own uid and
 * root, the users watcherctl runs as.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "common/crc.h"
#include "common/fields.h"
#include "common/io.h"
#include "common/msg.h"
#include "common/proto.h"
#include "watcherctl/ctl.h"
#include "watcherctl/write.h"

#define WRITE_FIRST_READ	65536

/* Reads all of stdin into ctl->input, at most WRITE_MAX_INPUT bytes. */
static int
read_input(struct ctl *ctl)
{
	size_t cap = 0;
	ssize_t n;
	char *p;

	for (;;) {
		if (ctl->input_len == cap) {
			cap = cap ? cap * 2 : WRITE_FIRST_READ;
			if (cap > WRITE_MAX_INPUT + 1)
				cap = WRITE_MAX_INPUT + 1;
			if ((p = realloc(ctl->input, cap)) == NULL) {
				snprintf(ctl->errstr, sizeof(ctl->errstr),
				    "out of memory");
				return -1;
			}
			ctl->input = p;
		}
		if ((n = io_read_full(STDIN_FILENO, ctl->input + ctl->input_len,
		    cap - ctl->input_len)) == -1) {
			snprintf(ctl->errstr, sizeof(ctl->errstr),
			    "read from stdin: %s", strerror(errno));
			return -1;
		}
		ctl->input_len += (size_t)n;
		if (ctl->input_len > WRITE_MAX_INPUT) {
			snprintf(ctl->errstr, sizeof(ctl->errstr), "stdin holds "
			    "more than %d MiB, the most write takes",
			    WRITE_MAX_INPUT >> 20);
			return -1;
		}
		if (ctl->input_len < cap)
			return 0;	/* the end of stdin */
	}
}

/* Asks for the file's checksum now, into ctl->if_checksum; leaves the
   connection open for the write. */
static int
current_checksum(struct ctl *ctl, const struct target *t)
{
	struct msg_file f = ctl_file(t);
	char line[MSG_LINE_MAX];
	struct msg_state st;
	struct msg m;

	msg_init(&m, line, sizeof(line));
	msg_request_file(&m, "checksum", &f);
	if (ctl_request(ctl, &m, 0) == -1)
		return -1;
	if (fields_state(ctl->reply, ctl->reply_len, &st) == -1 ||
	    !st.exists || st.too_large) {
		snprintf(ctl->errstr, sizeof(ctl->errstr), "watcherd has no "
		    "checksum for %s (is it larger than max-file-size?)",
		    t->file_name);
		return -1;
	}
	ctl->if_checksum = st.crc;
	return 0;
}

/* Sends the write request and its payload; reads the reply into
   ctl->reply: 0, or -1 when there is none (a refusal is one). */
static int
send_write(struct ctl *ctl, const struct target *t)
{
	struct msg_file f = ctl_file(t);
	char line[MSG_LINE_MAX];
	struct msg m;

	msg_init(&m, line, sizeof(line));
	msg_request_write(&m, &f, ctl->if_checksum, ctl->input_len);
	if (m.full) {
		snprintf(ctl->errstr, sizeof(ctl->errstr),
		    "the file name is too long");
		return -1;
	}
	/* watcherd may refuse a payload it will not take and close the
	   connection before it is all sent: its answer is still there. */
	if (proto_client_send_payload(&ctl->client, m.buf, m.len, ctl->input,
	    ctl->input_len) == -1 && errno != EPIPE && errno != ECONNRESET) {
		snprintf(ctl->errstr, sizeof(ctl->errstr), "%s",
		    ctl->client.errstr);
		return -1;
	}
	return ctl_read_reply(ctl, &ctl->client, 0) == -1 &&
	    ctl->reply == NULL ? -1 : 0;
}

/* An integer member, or -1 when absent or of another type. */
static int64_t
int_member(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_int))
		return -1;
	return json_object_get_int64(v);
}

/* Prints each of a reply's findings (an array, as fields_write() gives
   it) on stderr, as a compiler would: "F:LINE:COL: <kind>message",
   ":COL" left out when null. */
static void
print_findings(const struct target *t, const struct msg_json *j,
    const char *kind)
{
	struct json_object *list, *e, *msg;
	struct json_tokener *tok;
	int64_t line, col;
	size_t i, n;

	if (j->text == NULL || (tok = json_tokener_new()) == NULL)
		return;
	list = json_tokener_parse_ex(tok, j->text, (int)j->len);
	json_tokener_free(tok);
	n = json_object_is_type(list, json_type_array) ?
	    json_object_array_length(list) : 0;
	for (i = 0; i < n; i++) {
		e = json_object_array_get_idx(list, i);
		fprintf(stderr, "%s", t->file_name);
		if ((line = int_member(e, "line")) >= 0) {
			fprintf(stderr, ":%" PRId64, line);
			if ((col = int_member(e, "column")) >= 0)
				fprintf(stderr, ":%" PRId64, col);
		}
		fprintf(stderr, ": %s%s\n", kind,
		    json_object_object_get_ex(e, "message", &msg) &&
		    json_object_is_type(msg, json_type_string) ?
		    json_object_get_string(msg) : "(no message)");
	}
	json_object_put(list);
}

int
write_command(struct ctl *ctl, const struct target *t)
{
	char crc[CRC_HEX_LEN + 1] = "-";
	struct msg_write w;
	int refused;

	if (!ctl->timeout_set)
		ctl->timeout_ms = WRITE_DEFAULT_TIMEOUT_MS;
	if (read_input(ctl) == -1)
		return -1;
	if ((ctl->has_if ? ctl_connect(ctl, &ctl->client) :
	    current_checksum(ctl, t)) == -1)
		return -1;
	if (send_write(ctl, t) == -1)
		return -1;
	refused = ctl_reply_check(ctl, ctl->reply, ctl->reply_len) == -1;
	if (fields_write(ctl->reply, ctl->reply_len, &w) == -1)
		w.error = refused ? PROTO_INTERNAL : PROTO_OK;
	if (refused && w.error != PROTO_CONFLICT && w.error != PROTO_INVALID)
		return -1;
	if (ctl->json) {
		if (ctl_print_reply(ctl) == -1)
			return -1;
	} else {
		print_findings(t, &w.errors, "");
		print_findings(t, &w.warnings, "warning: ");
		/* The new checksum, or on a conflict the one the file has. */
		if (w.error == PROTO_OK && w.st.exists && !w.st.too_large)
			crc_format(w.st.crc, crc);
		else if (w.error == PROTO_CONFLICT && w.has_current)
			crc_format(w.current, crc);
		if (w.error == PROTO_OK || w.error == PROTO_CONFLICT)
			printf("%s\n", crc);
	}
	if (w.error == PROTO_OK)
		return 0;
	ctl->exit_status = w.error == PROTO_CONFLICT ?
	    WRITE_EXIT_CONFLICT : WRITE_EXIT_INVALID;
	return -1;
}

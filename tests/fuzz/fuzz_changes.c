/*
 * Files changing under watcherd while it is asked about them: the input
 * is a program of edits to three watched names of the fixture folder
 * (w0.log, w1.log, wdir/secret.log: written in place, appended, truncated,
 * replaced by rename, deleted, swapped for a symlink to the outside secret,
 * wdir swapped for a symlink to the outside folder) interleaved with
 * checksum, content, tail and subscribe requests to a real watcherd
 * running in a thread, as any client would send them. Checks:
 * - a content reply's bytes are one of the versions the name had, with
 *   the checksum and size of exactly those bytes (DESIGN.md: a content
 *   and its checksum always belong together);
 * - no reply, payload or pushed event ever carries the outside secret's
 *   bytes or checksum, whatever the name was swapped for;
 * - every reply is ok or a failure with a known code, every pushed line
 *   an event.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include <json-c/json.h>
#include <zlib.h>

#include "common/proto.h"
#include "tests/fuzz/harness.h"

#define NAMES		3
#define VERSIONS	64	/* remembered per name, across inputs */
#define MAX_SLEEPS	2	/* per input, of SETTLE_MS each */
#define SETTLE_MS	25

static const char *const names[NAMES] = {
	"w0.log", "w1.log", "wdir/secret.log",
};

struct version {
	char	*data;
	size_t	 len;
};

static struct version versions[NAMES][VERSIONS];
static size_t n_versions[NAMES];
static char folder[600];
static struct proto_client req, sub;
static int sub_connected, wdir_out;

static void
path_of(char *out, size_t len, const char *rel)
{
	snprintf(out, len, "%s/%s", folder, rel);
}

/* Remembers the current content of name k. */
static void
remember(size_t k)
{
	struct version *v = &versions[k][n_versions[k]++ % VERSIONS];
	char path[700];
	struct stat st;
	int fd;

	free(v->data);
	v->data = NULL;
	if (k == 2 && wdir_out)
		return;		/* the outside secret: no version of ours */
	path_of(path, sizeof(path), names[k]);
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return;
	if (fstat(fd, &st) == 0 && (v->data = malloc((size_t)st.st_size + 1)))
		v->len = (size_t)pread(fd, v->data, (size_t)st.st_size, 0);
	close(fd);
}

static int
is_version(size_t k, const char *data, size_t len)
{
	size_t i;

	for (i = 0; i < VERSIONS; i++)
		if (versions[k][i].data && versions[k][i].len == len &&
		    memcmp(versions[k][i].data, data, len) == 0)
			return 1;
	return 0;
}

static void
put_file(const char *rel, const uint8_t *data, size_t len, int flags)
{
	char path[700], bytes[64];
	size_t i;
	int fd;

	/* Our versions never hold the secret's marker. */
	if (len > sizeof(bytes))
		len = sizeof(bytes);
	for (i = 0; i < len; i++)
		bytes[i] = data[i] == 'S' ? 's' : (char)data[i];
	path_of(path, sizeof(path), rel);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC |
	    flags, 0644)) == -1)
		return;		/* a symlink now, or wdir is swapped */
	if (len > 0 && write(fd, bytes, len) != (ssize_t)len)
		fuzz_fail("write %s: %s", path, strerror(errno));
	close(fd);
}

/* Swaps wdir for a symlink to the outside folder, or back. */
static void
swap_wdir(void)
{
	char wdir[700], kept[700];

	path_of(wdir, sizeof(wdir), "wdir");
	path_of(kept, sizeof(kept), "wdir.kept");
	if (!wdir_out) {
		if (rename(wdir, kept) == -1 ||
		    symlink("../../../../../../../outside", wdir) == -1)
			fuzz_fail("swap wdir: %s", strerror(errno));
	} else if (unlink(wdir) == -1 || rename(kept, wdir) == -1)
		fuzz_fail("swap wdir back: %s", strerror(errno));
	wdir_out = !wdir_out;
}

/* Checks a pushed line or a reply for the secret. */
static void
check_no_secret(struct json_object *o, const char *payload, size_t len)
{
	const char *crc = fuzz_json_string(o, "checksum");

	FUZZ_CHECK(crc == NULL || strcmp(crc, FUZZ_SECRET_CRC) != 0,
	    "watcherd gave the outside secret's checksum");
	FUZZ_CHECK(payload == NULL || !fuzz_contains(payload, len, "SSSS"),
	    "watcherd gave the outside secret's bytes");
}

static void
drain_events(void)
{
	struct json_object *ev;

	if (!sub_connected)
		return;
	sub.timeout_ms = 0;
	while (proto_client_read(&sub, &ev, NULL, NULL) == 0) {
		FUZZ_CHECK(fuzz_json_string(ev, "event") != NULL ||
		    json_object_object_get_ex(ev, "ok", NULL),
		    "a pushed line is no event: %s", json_object_to_json_string(ev));
		check_no_secret(ev, NULL, 0);
		json_object_put(ev);
	}
	FUZZ_CHECK(errno == ETIMEDOUT, "subscription connection failed: %s",
	    sub.errstr);
}

/* Sends a request about name k and checks its reply. */
static void
ask(struct proto_client *c, size_t k, const char *cmd, const char *extra)
{
	struct json_object *reply, *ok;
	char line[512], *payload, *bytes, want[16];
	size_t len, blen;
	const char *crc, *code;
	int json = strstr(extra, "\"json\"") != NULL;

	snprintf(line, sizeof(line), "{\"cmd\":\"%s\",\"proposal\":1111,"
	    "\"file_name\":\"%s\"%s}", cmd, names[k], extra);
	if (proto_client_send_line(c, line, strlen(line)) == -1)
		fuzz_fail("cannot send %s: %s", line, c->errstr);
	for (;;) {
		if (proto_client_read(c, &reply, &payload, &len) == -1)
			fuzz_fail("watcherd did not answer %s: %s", line,
			    c->errstr);
		check_no_secret(reply, payload, len);
		/* Events of earlier subscriptions may come first. */
		if (json_object_object_get_ex(reply, "ok", NULL) ||
		    fuzz_json_string(reply, "event") == NULL)
			break;
		json_object_put(reply);
		free(payload);
	}
	FUZZ_CHECK(json_object_object_get_ex(reply, "ok", &ok), "reply has no "
	    "ok: %s", json_object_to_json_string(reply));
	if (!json_object_get_boolean(ok)) {
		code = fuzz_json_string(reply, "error");
		FUZZ_CHECK(code && proto_error_from_code(code) != PROTO_INTERNAL,
		    "%s failed with error %s", line, code ? code : "-");
	} else if (!strcmp(cmd, "content")) {
		crc = fuzz_json_string(reply, "checksum");
		if (!json) {
			bytes = payload;
			blen = len;
		} else {
			struct json_object *lit = fuzz_json_parse(payload, len);

			FUZZ_CHECK(lit && json_object_is_type(lit, json_type_string),
			    "JSON content is no string");
			blen = (size_t)json_object_get_string_len(lit);
			if (!strcmp(fuzz_json_string(reply, "encoding") ?
			    fuzz_json_string(reply, "encoding") : "", "base64"))
				bytes = (char *)fuzz_base64_decode(
				    json_object_get_string(lit), blen, &blen);
			else if ((bytes = malloc(blen + 1)) != NULL)
				memcpy(bytes, json_object_get_string(lit), blen);
			json_object_put(lit);
			FUZZ_CHECK(bytes != NULL, "JSON content does not decode");
		}
		snprintf(want, sizeof(want), "%08lx",
		    crc32(0, (const unsigned char *)bytes, (unsigned)blen));
		FUZZ_CHECK(crc && !strcmp(crc, want) &&
		    fuzz_json_int(reply, "size") == (int64_t)blen,
		    "content of %s: checksum %s and size %lld, its %zu bytes have "
		    "%s", names[k], crc ? crc : "null",
		    (long long)fuzz_json_int(reply, "size"), blen, want);
		FUZZ_CHECK(is_version(k, bytes, blen), "content of %s is no "
		    "version it had", names[k]);
		if (bytes != payload)
			free(bytes);
	}
	json_object_put(reply);
	free(payload);
}

/* Puts the names back as each input starts: plain files, wdir a folder. */
static void
reset(void)
{
	char base[32];
	size_t k;

	if (wdir_out)
		swap_wdir();
	for (k = 0; k < NAMES; k++) {
		char path[700];

		path_of(path, sizeof(path), names[k]);
		unlink(path);
		snprintf(base, sizeof(base), "base of %s\n", names[k]);
		put_file(names[k], (const uint8_t *)base, strlen(base), O_TRUNC);
		remember(k);
	}
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const struct fuzz_tree *t = fuzz_tree();
	char path[700];

	(void)argc;
	(void)argv;
	snprintf(folder, sizeof(folder), "%s", t->folder[0]);
	path_of(path, sizeof(path), "wdir");
	if (mkdir(path, 0755) == -1)
		fuzz_fail("mkdir %s: %s", path, strerror(errno));
	fuzz_daemon_thread();
	if (proto_client_connect(&req, t->socket, 2000) == -1)
		fuzz_fail("%s", req.errstr);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct timespec settle = { 0, SETTLE_MS * 1000000L };
	const uint8_t *p = data, *end = data + size;
	char path[700], tmp[700], extra[128];
	size_t k, len, sleeps = 0;
	struct stat st;
	uint8_t op;

	reset();
	while (p + 2 <= end) {
		op = *p++ % 10;
		k = *p++ % NAMES;
		path_of(path, sizeof(path), names[k]);
		len = p < end ? *p++ % 64 : 0;
		if (len > (size_t)(end - p))
			len = (size_t)(end - p);
		switch (op) {
		case 0:		/* written in place */
			put_file(names[k], p, len, O_TRUNC);
			p += len;
			break;
		case 1:
			put_file(names[k], p, len, O_APPEND);
			p += len;
			break;
		case 2:
			if (lstat(path, &st) == 0 && S_ISREG(st.st_mode))
				(void)!truncate(path, (off_t)len % (st.st_size + 1));
			break;
		case 3:		/* an editor's save: a new file renamed over */
			path_of(tmp, sizeof(tmp), k == 2 ? "wdir/.tmp" : ".tmp");
			unlink(tmp);
			put_file(k == 2 ? "wdir/.tmp" : ".tmp", p, len, O_TRUNC);
			p += len;
			(void)!rename(tmp, path);
			break;
		case 4:
			unlink(path);
			break;
		case 5:		/* pointed outside */
			if (k == 2)
				swap_wdir();
			else {
				path_of(tmp, sizeof(tmp), ".tmp");
				unlink(tmp);
				if (symlink(len & 1 ? "../../../../../../../secret.log" :
				    fuzz_tree()->root, tmp) == 0)
					(void)!rename(tmp, path);
			}
			break;
		case 6:
			ask(&req, k, "checksum", "");
			break;
		case 7:
			ask(&req, k, "content", len & 1 ? ",\"format\":\"json\"" : "");
			break;
		case 8:
			snprintf(extra, sizeof(extra), ",\"offset\":%zu,"
			    "\"max_bytes\":%zu%s", len, 4 + len,
			    len & 1 ? ",\"format\":\"json\"" : "");
			ask(&req, k, "tail", extra);
			break;
		case 9:
			if (len & 1 && sleeps < MAX_SLEEPS) {
				sleeps++;
				nanosleep(&settle, NULL);
				break;
			}
			if (!sub_connected) {
				if (proto_client_connect(&sub, fuzz_tree()->socket,
				    2000) == -1)
					fuzz_fail("%s", sub.errstr);
				sub_connected = 1;
			}
			sub.timeout_ms = 2000;
			ask(&sub, k, "subscribe", "");
			break;
		}
		if (op <= 5)
			remember(k);
		drain_events();
	}
	if (sub_connected) {
		proto_client_close(&sub);
		sub_connected = 0;
	}
	return 0;
}

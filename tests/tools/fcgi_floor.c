/*
 * fcgi_floor: the floor that tests/bench/http measures filehandler.fcgi
 * against. A FastCGI responder, started by the web server like the
 * handler, that answers from memory what the handler answers after asking
 * watcherd, with the same headers and body sizes:
 *
 *   .../short  has_new_checksum's answer: `true`, X-Checksum, no-store
 *   .../big    file_content's answer for the file named by $FLOOR_FILE
 *              (else 100 KiB of generated text): ETag, no-cache
 *
 * Anything else gets 404. Both bodies are built once, at start-up.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <fcgiapp.h>

#include "common/crc.h"
#include "common/text.h"

#define FLOOR_GENERATED_SIZE	(100 * 1024)
#define FLOOR_MAX_FILE		(16 * 1024 * 1024)

/* One prepared answer: its header block and its body. */
struct answer {
	char	 head[512];
	int	 head_len;
	char	*body;
	size_t	 body_len;
};

static void
die(const char *what)
{
	fprintf(stderr, "fcgi_floor: %s: %s\n", what,
	    errno ? strerror(errno) : "failed");
	exit(1);
}

/* The file's bytes, or generated Python text when path is NULL. The
   caller frees. */
static char *
load_content(const char *path, size_t *len)
{
	struct stat st;
	char *buf;
	size_t off = 0;
	ssize_t n;
	int fd, i;

	if (path == NULL) {
		if ((buf = malloc(FLOOR_GENERATED_SIZE + 256)) == NULL)
			die("malloc");
		for (i = 0; off < FLOOR_GENERATED_SIZE; i++)
			off += (size_t)snprintf(buf + off,
			    FLOOR_GENERATED_SIZE + 256 - off,
			    "@Variable(title=\"Energy %d [µJ]\", data=\"raw\")\n"
			    "def energy_%d(run):\n    return run[%d].mean()\n\n",
			    i, i, i);
		*len = off;
		return buf;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 || fstat(fd, &st) == -1)
		die(path);
	if (st.st_size > FLOOR_MAX_FILE) {
		errno = EFBIG;
		die(path);
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL)
		die("malloc");
	while (off < (size_t)st.st_size &&
	    (n = read(fd, buf + off, (size_t)st.st_size - off)) > 0)
		off += (size_t)n;
	close(fd);
	*len = off;
	return buf;
}

/* file_content's body and headers for the content. */
static void
prepare_big(struct answer *a, const char *content, size_t len)
{
	char crc[CRC_HEX_LEN + 1], tail[256];
	char *literal;
	size_t literal_len;
	int base64, head, tail_len;
	static const char prefix[] =
	    "{\"proposal\":1111,\"file_name\":\"context.py\",\"content\":";

	crc_format(crc_buffer(content, len), crc);
	if ((literal = text_content_literal(content, len, &literal_len,
	    &base64)) == NULL)
		die("text_content_literal");
	tail_len = snprintf(tail, sizeof(tail), ",\"encoding\":\"%s\","
	    "\"checksum\":\"%s\",\"size\":%zu,\"mtime\":1764118861.123456}",
	    base64 ? "base64" : "utf-8", crc, len);
	head = (int)sizeof(prefix) - 1;
	a->body_len = (size_t)head + literal_len + (size_t)tail_len;
	if ((a->body = malloc(a->body_len)) == NULL)
		die("malloc");
	memcpy(a->body, prefix, (size_t)head);
	memcpy(a->body + head, literal, literal_len);
	memcpy(a->body + head + literal_len, tail, (size_t)tail_len);
	free(literal);
	a->head_len = snprintf(a->head, sizeof(a->head), "Status: 200 OK\r\n"
	    "Content-Type: application/json\r\nCache-Control: no-cache\r\n"
	    "Content-Length: %zu\r\nX-Checksum: %s\r\nETag: \"%s\"\r\n\r\n",
	    a->body_len, crc, crc);
}

/* has_new_checksum's body and headers. */
static void
prepare_short(struct answer *a)
{
	if ((a->body = strdup("true")) == NULL)
		die("strdup");
	a->body_len = 4;
	a->head_len = snprintf(a->head, sizeof(a->head), "Status: 200 OK\r\n"
	    "Content-Type: application/json\r\nCache-Control: no-store\r\n"
	    "Content-Length: 4\r\nX-Checksum: 0e6fd9b8\r\n\r\n");
}

static void
prepare_not_found(struct answer *a)
{
	static const char body[] = "{\"detail\":\"unknown route\"}";

	if ((a->body = strdup(body)) == NULL)
		die("strdup");
	a->body_len = sizeof(body) - 1;
	a->head_len = snprintf(a->head, sizeof(a->head), "Status: 404 Not Found"
	    "\r\nContent-Type: application/json\r\nCache-Control: no-store\r\n"
	    "Content-Length: %zu\r\n\r\n", a->body_len);
}

/* Whether the path of uri (its query ignored) ends with suffix. */
static int
path_ends_with(const char *uri, const char *suffix)
{
	size_t len, slen = strlen(suffix);

	if (uri == NULL)
		return 0;
	len = strcspn(uri, "?");
	return len >= slen && memcmp(uri + len - slen, suffix, slen) == 0;
}

int
main(void)
{
	struct answer big, small, missing;
	const struct answer *a;
	FCGX_Request req;
	const char *uri;
	char *content;
	size_t len;

	signal(SIGPIPE, SIG_IGN);
	content = load_content(getenv("FLOOR_FILE"), &len);
	prepare_big(&big, content, len);
	free(content);
	prepare_short(&small);
	prepare_not_found(&missing);
	if (FCGX_Init() != 0 || FCGX_InitRequest(&req, 0, 0) != 0) {
		fprintf(stderr, "fcgi_floor: cannot initialise libfcgi\n");
		return 1;
	}
	while (FCGX_Accept_r(&req) == 0) {
		uri = FCGX_GetParam("REQUEST_URI", req.envp);
		if (path_ends_with(uri, "/short"))
			a = &small;
		else if (path_ends_with(uri, "/big"))
			a = &big;
		else
			a = &missing;
		FCGX_PutStr(a->head, a->head_len, req.out);
		FCGX_PutStr(a->body, (int)a->body_len, req.out);
		FCGX_Finish_r(&req);
	}
	free(big.body);
	free(small.body);
	free(missing.body);
	return 0;
}

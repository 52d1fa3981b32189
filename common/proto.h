/*
 * The watcherd socket protocol, version 1: newline-delimited JSON over a
 * UNIX stream socket. Each request is one JSON object on one line with a
 * "cmd"; each reply is one JSON object on one line with "ok". A reply may
 * announce "payload":N, and then exactly N raw bytes follow its newline.
 * Everything that frames or unframes these lines lives here.
 */
#ifndef PROTO_H
#define PROTO_H

#include <stddef.h>
#include <sys/types.h>

struct json_object;

#define PROTO_VERSION   1
#define PROTO_MAX_LINE  65536		/* bytes of one line, newline excluded */
#define PROTO_MAX_PAYLOAD (1LL << 32)	/* bytes a client accepts after a reply */

/* The error codes of a failed reply, and the HTTP status each maps to. */
/* tail: the bytes of a file from an offset on, per request. */
#define PROTO_TAIL_DEFAULT_BYTES	(1 << 20)
#define PROTO_TAIL_MAX_BYTES		(16 << 20)

enum proto_error {
	PROTO_OK = 0,
	PROTO_BAD_REQUEST,	/* 400 */
	PROTO_FORBIDDEN,	/* 403 */
	PROTO_NOT_FOUND,	/* 404 */
	PROTO_TOO_LARGE,	/* 413 */
	PROTO_UNAVAILABLE,	/* 503 */
	PROTO_INTERNAL,		/* 500 */
	PROTO_UNAUTHENTICATED,	/* 401: nobody is logged in */
	PROTO_CONFLICT,		/* 412: the file is no longer what the
				   write started from */
	PROTO_INVALID,		/* 422: the validator refused */
	/* Never on the wire: watcherd's answer is not ready yet, it waits
	   for file-system work done off its loop. */
	PROTO_PENDING = 100,
	/* Never on the wire: the user may not; the caller words the
	   forbidden answer, naming user and proposal. */
	PROTO_DENIED,
};

/* "bad_request", "forbidden", ...; "ok" for PROTO_OK. */
const char	*proto_error_code(enum proto_error);
/* The enum for a code string; PROTO_INTERNAL for an unknown one. */
enum proto_error proto_error_from_code(const char *);
/* 200, 400, 401, 403, 404, 412, 413, 422, 503 or 500. */
int		 proto_error_http_status(enum proto_error);

/*
 * A bounded line reader for a non-blocking peer. Bytes go in through
 * proto_reader_space() and proto_reader_commit(); complete lines come out of
 * proto_reader_next(). The buffer grows on demand up to PROTO_MAX_LINE + 1,
 * and beyond only while it holds complete lines not taken yet.
 */
struct proto_reader {
	char	*buf;
	size_t	 len;		/* bytes held */
	size_t	 cap;
	size_t	 start;		/* first byte not yet returned */
	int	 discarding;	/* skipping the rest of an overlong line;
				   2: and its -1 is not returned yet */
};

/* Frees the buffer; the reader may be reused after proto_reader_init(). */
void	proto_reader_init(struct proto_reader *);
void	proto_reader_free(struct proto_reader *);
/* Room for at least one more byte: sets *space and returns its size, or 0
   when memory is exhausted. */
size_t	proto_reader_space(struct proto_reader *, char **space);
/* Records that n bytes were written into the space. */
void	proto_reader_commit(struct proto_reader *, size_t n);
/*
 * Takes the next line. Returns 1 with *line (NUL-terminated in place, valid
 * until the next call that changes the reader) and *len set; 0 when no
 * complete line is held; -1 once for each line longer than PROTO_MAX_LINE,
 * whose bytes are then skipped up to and including its newline.
 */
int	proto_reader_next(struct proto_reader *, char **line, size_t *len);
/* Takes up to n raw bytes that follow a line (a payload); returns how many
   were copied into dst. */
size_t	proto_reader_take(struct proto_reader *, char *dst, size_t n);

/*
 * A blocking client connection, as watcherctl and filehandler.fcgi use it.
 * Every read and write is bounded by timeout_ms (a negative value waits for
 * ever), retried on EINTR, and written with MSG_NOSIGNAL. On failure a call
 * returns -1 and leaves a message for a person in errstr.
 */
struct proto_client {
	int			 fd;
	int			 timeout_ms;
	long long		 deadline;	/* of the call under way
						   (proto_client_start()) */
	int			 recv_timeout_ms;	/* the socket's
						   SO_RCVTIMEO; 0: none */
	struct proto_reader	 reader;
	char			 errstr[256];
};

/* Connects to the socket at path. Returns 0, or -1 with errstr set (and
   errno from connect, ENOENT or ECONNREFUSED when no daemon runs). */
int	proto_client_connect(struct proto_client *, const char *path,
	    int timeout_ms);
/* Closes the connection and frees its buffers. */
void	proto_client_close(struct proto_client *);
/* Sends one request line: the object serialised plus "\n". */
int	proto_client_send(struct proto_client *, struct json_object *request);
/* Sends a raw line; it must not contain a newline (one is appended). */
int	proto_client_send_line(struct proto_client *, const char *line,
	    size_t len);
/* Sends a raw line, as proto_client_send_line(), and then payload_len
   raw bytes: a request that announces "payload":N (write). On failure
   errno says why: EPIPE or ECONNRESET when watcherd closed the connection
   (it may have answered first), ETIMEDOUT when it took no more in time. */
int	proto_client_send_payload(struct proto_client *, const char *line,
	    size_t len, const char *payload, size_t payload_len);
/* Starts a call: the reads that follow, up to the next start, must be
   done within the client's timeout from now, all together. */
void	proto_client_start(struct proto_client *);
/* Reads one line of the call: *line (NUL-terminated, valid until the next
   read on the client) and *len. */
int	proto_client_read_line(struct proto_client *, char **line, size_t *len);
/* Reads the want bytes of a payload announced by the line just read into
   a malloc()ed, NUL-terminated *payload (the caller frees it), within the
   same call's time. */
int	proto_client_read_payload(struct proto_client *, long long want,
	    char **payload);
/*
 * Reads one line and parses it as a JSON object into *reply (the caller
 * puts it). When the object announces "payload":N and payload is not NULL,
 * also reads the N bytes into a malloc()ed, NUL-terminated *payload (the
 * caller frees it) and sets *payload_len.
 */
int	proto_client_read(struct proto_client *, struct json_object **reply,
	    char **payload, size_t *payload_len);
/* Sends a request and reads its reply: proto_client_send + _read. */
int	proto_client_call(struct proto_client *, struct json_object *request,
	    struct json_object **reply, char **payload, size_t *payload_len);

/* The monotonic clock in milliseconds, as the client's timeouts count. */
long long proto_now_ms(void);

/* The default socket path: $WATCHERD_SOCKET, else PROTO_DEFAULT_SOCKET. */
#define PROTO_DEFAULT_SOCKET "/run/watcherd/watcherd.sock"
const char *proto_default_socket(void);

#endif

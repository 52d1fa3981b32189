/*
 * Writing the socket protocol's lines (DESIGN.md section 4): every
 * request, reply and event shape is written here, by one function each,
 * field by field into a caller's buffer, without printf and without
 * allocating. A line that does not fit is marked full and keeps what
 * fitted, so that callers check once, at the end. common/fields.h reads
 * the same shapes back into the same structs.
 */
#ifndef MSG_H
#define MSG_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/policy.h"
#include "common/proto.h"

struct http_count_table;

/* The JSON literal of a file name (quotes, every byte escaped at worst). */
#define MSG_NAME_LITERAL_MAX	((POLICY_MAX_NAME + 1) * 6 + 3)
/* The JSON literal of a user name, likewise. */
#define MSG_USER_LITERAL_MAX	((POLICY_MAX_USER + 1) * 6 + 3)
/* Room for a line of fixed fields plus a file name, a user and a detail. */
#define MSG_LINE_MAX		(1024 + 2 * MSG_NAME_LITERAL_MAX + \
				    MSG_USER_LITERAL_MAX)
/* Bytes of a refusal's detail kept, before escaping: watcherd's details
   are its own short texts, and the bound is only a guard. */
#define MSG_DETAIL_MAX		512
/* Bytes of a tail's generation a reader takes, NUL included. */
#define MSG_GENERATION_MAX	64

struct msg {
	char	*buf;
	size_t	 len;
	size_t	 cap;
	int	 full;		/* something did not fit */
};

/* Starts a line in buf (cap bytes). */
void	msg_init(struct msg *, char *buf, size_t cap);
/* Appends len bytes as they are. */
void	msg_raw(struct msg *, const char *s, size_t len);
/* Appends a NUL-terminated string as it is (JSON text, not a value). */
void	msg_text(struct msg *, const char *s);
/* Appends a decimal number. */
void	msg_uint(struct msg *, unsigned long long);
void	msg_int(struct msg *, long long);
/* Appends the JSON string literal of len bytes. */
void	msg_string(struct msg *, const char *s, size_t len);
/* Appends a checksum as a JSON string: "0e6fd9b8". */
void	msg_crc(struct msg *, uint32_t);
/* Appends a time as seconds with six decimals: 1764118861.123456. */
void	msg_time(struct msg *, const struct timespec *);

/* JSON text as it stands (an array of a validator's findings): written
   as it is, read as a slice of the line. NULL text: the shape's default. */
struct msg_json {
	const char	*text;
	size_t		 len;
};

/* A file's state as the protocol carries it. */
struct msg_state {
	int		 exists;	/* 0: checksum, size and mtime null */
	int		 too_large;	/* over max-file-size: no checksum */
	uint32_t	 crc;		/* of exactly size bytes */
	long long	 size;
	struct timespec	 mtime;
};

/*
 * The file a request is about, and for whom: user is the web server's
 * REMOTE_USER (NULL: nobody logged in, "user":null); with named 0 the line
 * has no "user" at all, as a peer that watcherd trusts by its uid
 * (watcherctl) sends it. A name longer than POLICY_MAX_NAME is cut one
 * byte past it, so that watcherd still refuses it as too long; so is a
 * user name past POLICY_MAX_USER.
 */
struct msg_file {
	unsigned	 proposal;
	const char	*name;
	size_t		 len;
	int		 named;
	const char	*user;
};

/* Requests, each a whole line. */

/* {"cmd":CMD}: ping, status, list, and http_count asking only. */
void	msg_request(struct msg *, const char *cmd);
/* {"cmd":CMD,"proposal":P,"file_name":NAME,"user":USER}: checksum,
   subscribe, unwatch. */
void	msg_request_file(struct msg *, const char *cmd,
	    const struct msg_file *);
/* The content request: the file's request with "format":"json" (a JSON
   string literal to follow the reply) or "raw". */
void	msg_request_content(struct msg *, const struct msg_file *, int json);
/* The content request of the version with checksum crc. */
void	msg_request_version(struct msg *, const struct msg_file *, int json,
	    uint32_t crc);
/* The tail request: ...,"offset":O,"max_bytes":M,"format":F and, when
   generation is not NULL, "generation":G. */
void	msg_request_tail(struct msg *, const struct msg_file *,
	    long long offset, long long max_bytes, int json,
	    const char *generation);
/* The write request: ...,"if_checksum":"C","payload":N, the N bytes of
   the new content to follow its newline (proto_client_send_payload()). */
void	msg_request_write(struct msg *, const struct msg_file *,
	    uint32_t if_checksum, unsigned long long payload_len);
/* {"cmd":"http_count","counts":{…}}: the handler's answers to add. */
void	msg_request_http_count(struct msg *, const struct http_count_table *);

/* Replies. */

/* The state fields of a file: "checksum":"…","size":N,"mtime":T, with
   "checksum":null,…,"too_large":true over max-file-size, and all three
   null for a file that does not exist. A part of a line, no braces. */
void	msg_state(struct msg *, const struct msg_state *);
/* {"ok":true, the state fields, "mode":MODE} without the closing brace,
   for the caller's further members. */
void	msg_reply_ok_state(struct msg *, const struct msg_state *,
	    const char *mode);
/* The checksum and subscribe reply: {"ok":true, the state fields,
   "mode":MODE}. */
void	msg_reply_state(struct msg *, const struct msg_state *,
	    const char *mode);
/* The content reply: {"ok":true, the state fields, "mode":MODE,
   "encoding":"utf-8"|"base64","payload":N}. */
void	msg_reply_content(struct msg *, const struct msg_state *,
	    const char *mode, int base64, unsigned long long payload_len);

/* A tail reply: bytes [offset, next_offset) of a file of size bytes
   within a generation, or from 0 after a reset. */
struct msg_tail {
	long long	 offset;
	long long	 next_offset;
	long long	 size;		/* as read, maybe past the state's */
	const char	*generation;	/* plain characters */
	size_t		 generation_len;
	int		 reset;
	int		 base64;
	int		 has_crc;	/* 0: "checksum":null */
	uint32_t	 crc;
	struct timespec	 mtime;
};
/* The members a tail reply shares with the handler's /file_tail answer:
   "offset":O,…,"mtime":T, no braces. */
void	msg_tail_fields(struct msg *, const struct msg_tail *);
/* The tail reply: {"ok":true, the tail fields, "mode":MODE,"payload":N}. */
void	msg_reply_tail(struct msg *, const struct msg_tail *,
	    const char *mode, unsigned long long payload_len);
/* {"ok":true,"version":"V","protocol":1}. */
void	msg_reply_ping(struct msg *, const char *version);
/* {"ok":true,"subscribers_dropped":N}. */
void	msg_reply_unwatch(struct msg *, unsigned long long dropped);

/* A version of a file (DESIGN.md section 9). */
struct msg_version {
	uint32_t	 crc;
	struct timespec	 time;		/* the file's mtime with it */
	unsigned long long size;
	int		 saved;		/* source: "save"; 0: "disk" */
	const char	*user;		/* NULL: null */
};
/* {"checksum":"C","time":T,"size":N,"user":"U"|null,"source":"save"|
   "disk"}: one element of the versions array. */
void	msg_version(struct msg *, const struct msg_version *);
/* {"ok":true,"kept":true|false,"count":N,"payload":LEN}: the history
   reply, the JSON array of the N versions (newest first) its payload. */
void	msg_reply_history(struct msg *, int kept, size_t count,
	    unsigned long long payload_len);
/* {"ok":true,"counts":{…}}: the answers of every handler process. */
void	msg_reply_http_count(struct msg *, const struct http_count_table *);
/* {"ok":false,"error":CODE,"detail":DETAIL}, DETAIL cut at
   MSG_DETAIL_MAX bytes. */
void	msg_reply_error(struct msg *, enum proto_error, const char *detail);
/* The same without the closing brace, for the caller's further members. */
void	msg_reply_error_head(struct msg *, enum proto_error,
	    const char *detail);

/* How a write went. */
struct msg_write {
	enum proto_error error;		/* PROTO_OK: saved */
	const char	*detail;	/* not PROTO_OK */
	struct msg_state st;		/* PROTO_OK: the file now */
	int		 has_current;	/* PROTO_CONFLICT: the checksum the */
	uint32_t	 current;	/* file has, when known */
	struct msg_json	 errors;	/* PROTO_INVALID: arrays of findings, */
	struct msg_json	 warnings;	/* "[]" by default */
};
/* The write reply: {"ok":true, the state fields, "warnings":[…]}; on a
   conflict the refusal with "checksum":C or null; when invalid with
   "errors":[…],"warnings":[…]; any other refusal as msg_reply_error(). */
void	msg_reply_write(struct msg *, const struct msg_write *);

/* Events, each a whole line. */

/*
 * {"event":EVENT,"proposal":P,"file_name":NAME, the state fields (st may
 * be NULL: none) and "generation":G when generation is not NULL}. watcherd
 * pushes them; the handler writes the one it catches a client up with in
 * the same shape. The name is cut at POLICY_MAX_NAME bytes.
 */
void	msg_event_state(struct msg *, const char *event, unsigned proposal,
	    const char *file_name, size_t len, const struct msg_state *st,
	    const char *generation);
/* {"event":EVENT,"proposal":P,"file_name":NAME,"error":CODE,"detail":D}:
   a subscription that ends for a reason (the user may no longer read). */
void	msg_event_error(struct msg *, const char *event, unsigned proposal,
	    const char *file_name, size_t len, enum proto_error,
	    const char *detail);

#endif

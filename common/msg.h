/*
 * Writing the socket protocol's lines (DESIGN.md section 4): requests,
 * replies and events are put together here, field by field, into a
 * caller's buffer, without printf and without allocating. A line that
 * does not fit is marked full and keeps what fitted, so that callers check
 * once, at the end.
 */
#ifndef MSG_H
#define MSG_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/policy.h"

/* The JSON literal of a file name (quotes, every byte escaped at worst). */
#define MSG_NAME_LITERAL_MAX	((POLICY_MAX_NAME + 1) * 6 + 3)
/* The JSON literal of a user name, likewise. */
#define MSG_USER_LITERAL_MAX	((POLICY_MAX_USER + 1) * 6 + 3)
/* Room for a line of fixed fields plus a file name, a user and a detail. */
#define MSG_LINE_MAX		(1024 + 2 * MSG_NAME_LITERAL_MAX + \
				    MSG_USER_LITERAL_MAX)

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

/*
 * A request about a file, made for user (the web server's REMOTE_USER;
 * NULL: nobody logged in): {"cmd":CMD,"proposal":P,"file_name":NAME,
 * "user":USER then the caller's further members (",\"k\":v") and
 * msg_text(m, "}"). A name longer than POLICY_MAX_NAME is cut one byte past
 * it, so that watcherd still refuses it as too long; so is a user name past
 * POLICY_MAX_USER.
 */
void	msg_request_file(struct msg *, const char *cmd, unsigned proposal,
	    const char *file_name, size_t len, const char *user);

/*
 * The write request, whole: {"cmd":"write","proposal":P,"file_name":NAME,
 * "user":USER,"if_checksum":"C","payload":N}, the N bytes of the new
 * content to follow its newline (proto_client_send_payload()). Name and
 * user as msg_request_file() takes them; with named 0 the line has no
 * "user" at all, as a peer that watcherd trusts by its uid (watcherctl)
 * sends it.
 */
void	msg_request_write(struct msg *, unsigned proposal,
	    const char *file_name, size_t len, int named, const char *user,
	    uint32_t if_checksum, unsigned long long payload_len);

/*
 * An event about a file: {"event":EVENT,"proposal":P,"file_name":NAME then
 * the caller's further members and msg_text(m, "}"). watcherd pushes them;
 * the handler writes the one it catches a client up with in the same shape.
 */
void	msg_event(struct msg *, const char *event, unsigned proposal,
	    const char *file_name, size_t len);

#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "common/log.h"
#include "common/msg.h"
#include "watcherd/access/access.h"
#include "watcherd/daemon.h"
#include "watcherd/server.h"
#include "watcherd/subs.h"

#define RECHECK_MS	1000		/* a user's subscriptions are asked
					   about again this often */
#define EVENTS_BEHIND_MAX (8u << 20)	/* a subscriber this far behind is
					   cut */

/* A subscription. */
struct sub {
	struct watch_subscriber	 ws;		/* ws.owner: its sub_client */
	struct sub		*next;
	char			*user;		/* NULL: not asked again */
	struct waiter	 wait;		/* its check, while checking */
	int			 checking;
};

/* The subscriptions of one client (its client_data()). */
struct sub_client {
	struct client		*c;
	struct subs		*subs;
	struct sub		*list;
	LIST_ENTRY(sub_client)	 entry;		/* in the clients of subs */
};

struct subs {
	struct daemon		*d;
	LIST_HEAD(, sub_client)	 clients;
	struct loop_timer	 recheck_timer;
	size_t			 n_rechecked;	/* subscriptions with a user */
};

static void
sub_free(void *arg)
{
	struct sub *sub = arg;

	free(sub->user);
	free(sub);
}

/* Takes sub (out of the table already) off its client, ends its check
   and frees it once the loop's current batch is done: the check that
   resumes may be what removes it. */
static void
sub_remove(struct sub_client *sc, struct sub *sub)
{
	struct subs *s = sc->subs;
	struct sub **p;

	for (p = &sc->list; *p; p = &(*p)->next)
		if (*p == sub) {
			*p = sub->next;
			break;
		}
	if (sub->checking)
		waiter_end(s->d->jobs, &sub->wait);
	sub->checking = 0;
	if (sub->user)
		s->n_rechecked--;
	sub->ws.name = NULL;
	loop_defer_free(s->d->loop, sub, sub_free);
}

/* Whether sub's user may still read its file, asked as a request about
   it would be. */
static enum proto_error
may_still_read(struct sub_client *sc, struct sub *sub, char *detail,
    size_t detail_len)
{
	struct access_who who = { .named = 1, .user = sub->user,
	    .trusted = client_is_owner(sc->c) };
	struct watch_name *n = sub->ws.name;
	const char *file = watch_name_file(n), *why = "";
	struct file_id seen;
	enum proto_error e;

	file_id_of_state(watch_name_state(n), &seen);
	e = access_check(sc->subs->d->access, &sub->wait, NULL, &who,
	    watch_name_proposal(n), file, strlen(file), 0, &seen, detail,
	    detail_len, &why);
	if (e != PROTO_OK && e != PROTO_PENDING && why != detail)
		snprintf(detail, detail_len, "%s", why);
	return e;
}

/*
 * Asks again whether sub's user may read its file; an answer that takes
 * work resumes here. Once the user may not, the client is told with a
 * "forbidden" event (the error and its detail) and the subscription ends.
 */
static void
sub_check(void *arg)
{
	struct sub *sub = arg;
	struct sub_client *sc = sub->ws.owner;
	struct subs *s = sc->subs;
	char detail[1024], line[MSG_LINE_MAX];
	struct watch_name *n = sub->ws.name;
	enum proto_error e;
	struct msg m;

	if (client_gone(sc->c) || n == NULL)
		return;
	detail[0] = '\0';
	if ((e = may_still_read(sc, sub, detail, sizeof(detail))) ==
	    PROTO_PENDING)
		return;
	waiter_end(s->d->jobs, &sub->wait);
	sub->checking = 0;
	if (e != PROTO_FORBIDDEN && e != PROTO_UNAUTHENTICATED)
		return;
	log_info("subscription_ended", "pid=%d user=%s proposal=%u file=%s "
	    "error=%s", (int)client_pid(sc->c), log_str(sub->user),
	    watch_name_proposal(n), log_str(watch_name_file(n)),
	    proto_error_code(e));
	msg_init(&m, line, sizeof(line));
	msg_event_error(&m, "forbidden", watch_name_proposal(n),
	    watch_name_file(n), strlen(watch_name_file(n)), e, detail);
	watch_unsubscribe(s->d->watches, &sub->ws);
	sub_remove(sc, sub);
	/* Sent from the loop, as sub_dropped() does. */
	client_reply(sc->c, m.buf, m.len);
	client_wake(sc->c);
}

/* Every RECHECK_MS while a subscription names a user: each one that is
   not being checked already is checked again. */
static void
recheck_all(void *arg)
{
	struct subs *s = arg;
	struct sub_client *sc, *cnext;
	struct sub *sub, *snext;

	for (sc = LIST_FIRST(&s->clients); sc; sc = cnext) {
		cnext = LIST_NEXT(sc, entry);
		for (sub = sc->list; sub && !client_gone(sc->c); sub = snext) {
			snext = sub->next;
			if (sub->user == NULL || sub->checking)
				continue;
			sub->checking = 1;
			waiter_begin(s->d->jobs, &sub->wait, sub_check,
			    sub);
			sub_check(sub);
		}
	}
	if (s->n_rechecked > 0)
		loop_timer_arm(s->d->loop, &s->recheck_timer, RECHECK_MS);
}

int
subs_add(struct subs *s, struct client *c, struct watch_name *n,
    const char *user)
{
	struct sub_client *sc = client_data(c);
	struct sub *sub;

	if (sc == NULL) {
		if ((sc = calloc(1, sizeof(*sc))) == NULL)
			return -1;
		sc->c = c;
		sc->subs = s;
		LIST_INSERT_HEAD(&s->clients, sc, entry);
		client_set_data(c, sc);
	}
	for (sub = sc->list; sub; sub = sub->next)
		if (sub->ws.name == n)
			return 0;
	if ((sub = calloc(1, sizeof(*sub))) == NULL ||
	    (user && (sub->user = strdup(user)) == NULL)) {
		free(sub);
		return -1;
	}
	sub->ws.owner = sc;
	sub->next = sc->list;
	sc->list = sub;
	watch_subscribe(s->d->watches, n, &sub->ws);
	if (user && s->n_rechecked++ == 0)
		loop_timer_arm(s->d->loop, &s->recheck_timer, RECHECK_MS);
	return 0;
}

void
subs_client_closed(struct subs *s, struct client *c)
{
	struct sub_client *sc = client_data(c);
	struct sub *sub;

	if (sc == NULL)
		return;
	while ((sub = sc->list) != NULL) {
		watch_unsubscribe(s->d->watches, &sub->ws);
		sub_remove(sc, sub);
	}
	LIST_REMOVE(sc, entry);
	client_set_data(c, NULL);
	loop_defer_free(s->d->loop, sc, free);
}

/* The table's: a subscribed file changed. */
static void
sub_event(void *arg, struct watch_subscriber *ws, const char *ev,
    const struct watch_state *st)
{
	struct sub_client *sc = ws->owner;
	char line[MSG_LINE_MAX], gen[WATCH_GENERATION_LEN + 1];
	struct msg_state s = snapshot_msg_state(st);
	const char *file = watch_name_file(ws->name);
	struct msg m;

	(void)arg;
	if (client_gone(sc->c))
		return;
	if (client_backlog(sc->c) > EVENTS_BEHIND_MAX) {
		log_warn("subscriber_dropped", "pid=%d reason=\"not reading "
		    "its events\"", (int)client_pid(sc->c));
		client_close(sc->c, "event backlog");
		return;
	}
	watch_name_generation(ws->name, gen);
	msg_init(&m, line, sizeof(line));
	msg_event_state(&m, ev, watch_name_proposal(ws->name), file,
	    strlen(file), &s, st->exists ? gen : NULL);
	client_push(sc->c, m.buf, m.len);
}

/* The table's: the subscription was ended (unwatch, shutdown). */
static void
sub_dropped(void *arg, struct watch_subscriber *ws)
{
	struct sub_client *sc = ws->owner;
	char line[MSG_LINE_MAX];
	struct sub *sub;
	struct msg m;

	(void)arg;
	/* Tell the subscriber, which would otherwise wait for ever; sent
	   from the loop: a failed send here would close the client while the
	   table walks the subscriptions. */
	if (!client_gone(sc->c)) {
		msg_init(&m, line, sizeof(line));
		msg_event_state(&m, "unwatched", watch_name_proposal(ws->name),
		    watch_name_file(ws->name), strlen(watch_name_file(ws->name)),
		    NULL, NULL);
		client_reply(sc->c, m.buf, m.len);
		client_wake(sc->c);
	}
	for (sub = sc->list; sub; sub = sub->next)
		if (&sub->ws == ws) {
			sub_remove(sc, sub);
			return;
		}
	ws->name = NULL;
}

struct watch_callbacks
subs_watch_callbacks(struct subs *s)
{
	return (struct watch_callbacks){ .event = sub_event,
	    .dropped = sub_dropped, .arg = s };
}

struct subs *
subs_new(struct daemon *d)
{
	struct subs *s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->d = d;
	s->recheck_timer = (struct loop_timer){ .fn = recheck_all, .arg = s };
	return s;
}

void
subs_free(struct subs *s)
{
	if (s == NULL)
		return;
	loop_timer_disarm(s->d->loop, &s->recheck_timer);
	free(s);
}

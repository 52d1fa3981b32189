#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "watcherd/access/access.h"
#include "watcherd/commands.h"
#include "watcherd/daemon.h"
#include "watcherd/hook.h"
#include "watcherd/server.h"
#include "watcherd/subs.h"
#include "watcherd/watch/folder.h"
#include "watcherd/watch/watch.h"

/* A client closes: its subscriptions end with it. */
static void
client_closed(struct daemon *d, struct client *c)
{
	subs_client_closed(d->subs, c);
}

int
daemon_init(struct daemon *d, char *err, size_t errlen)
{
	static const struct server_handlers handlers = {
		.request = commands_dispatch, .closed = client_closed };
	struct watch_callbacks cb;

	if ((d->loop = loop_new()) == NULL) {
		snprintf(err, errlen, "epoll: %s", strerror(errno));
		return -1;
	}
	if ((d->tokener = json_tokener_new_ex(32)) == NULL ||
	    (d->hooks = hooks_new(d->loop, &d->cfg)) == NULL ||
	    (d->subs = subs_new(d)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if ((d->server = server_new(d, &handlers, err, errlen)) == NULL)
		goto fail;
	if ((d->jobs = jobs_new(d->loop, &d->cfg)) == NULL ||
	    (d->folders = folders_new(d->loop, &d->cfg, d->jobs)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	cb = subs_watch_callbacks(d->subs);
	cb.change = hooks_change;
	cb.wants = hooks_want;
	cb.change_arg = d->hooks;
	if ((d->watches = watch_table_new(d->loop, &d->cfg, cb, d->jobs,
	    d->folders)) == NULL) {
		snprintf(err, errlen, "inotify: %s (raise "
		    "fs.inotify.max_user_instances?)", strerror(errno));
		goto fail;
	}
	if ((d->access = access_new(d->loop, &d->cfg, d->jobs,
	    d->folders)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	d->started_ms = loop_now(d->loop);
	return 0;
fail:
	daemon_free(d);
	return -1;
}

void
daemon_free(struct daemon *d)
{
	/* The clients first: no request waits for an access check then. */
	server_free(d->server);
	subs_free(d->subs);
	/* Then the jobs: those that never ran, or ran and were not taken
	   back, are released; those still on a thread are left to it. */
	jobs_free(d->jobs);
	access_free(d->access);
	watch_table_free(d->watches);
	folders_free(d->folders);
	hooks_free(d->hooks);
	loop_free(d->loop);
	if (d->tokener)
		json_tokener_free(d->tokener);
	d->server = NULL;
	d->watches = NULL;
	d->hooks = NULL;
	d->access = NULL;
	d->loop = NULL;
	d->tokener = NULL;
}

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <unistd.h>

#include "common/log.h"
#include "common/policy.h"
#include "watcherd/access/access_int.h"
#include "watcherd/loop.h"
#include "watcherd/proc.h"

#define ANSWERS_MAX	65536	/* access-command answers remembered */
#define RUNS_MAX	16	/* access commands running at once */
#define RUNS_PER_USER	4	/* ... for one user: the others keep 12 */

/* What the access command said about (user, proposal, access), or is
   being asked. */
struct answer {
	struct memo_entry e;		/* key: "user\0proposal\0access" */
	struct access	*a;
	int		 allowed;
	long long	 decided;	/* LLONG_MIN / 2: not known */
	struct proc	*proc;		/* the run under way */
	struct job	*job;		/* ... and the requests waiting for it */
	const struct job *last;		/* the last run's, compared only: the
					   requests it resumes take its
					   answer, however short the cache */
	int		 failed;	/* the last run gave no answer */
};

static int
answer_busy(struct memo_entry *e)
{
	return ((struct answer *)e)->proc != NULL;
}

static void
answer_release(struct memo_entry *e)
{
	struct answer *ans = (struct answer *)e;

	if (ans->proc) {
		proc_abandon(ans->proc);
		share_give(&ans->a->runs, ans->e.key);
	}
	if (ans->job)
		job_outside_done(ans->job);
	free(ans);
}

/* An access-command that access does not use is most likely a forgotten
   "access = command", and access = unix without the capabilities it
   needs answers nothing: said at start and at each reload. */
static void
warn_unused(const struct config *cfg)
{
	if (cfg->access == ACCESS_UNIX && !creds_available())
		log_warn("access_unavailable", "access=unix reason=\"watcherd "
		    "lacks CAP_SETUID and CAP_SETGID: every file request is "
		    "answered unavailable\"");
	if (cfg->access != ACCESS_COMMAND && cfg->access_command.argc > 0)
		log_warn("access_command_unused", "access=%s reason=\""
		    "access-command is used only with access = command\"",
		    config_access_name(cfg->access));
}

struct access *
access_new(struct loop *loop, const struct config *cfg, struct jobs *jobs,
    struct folders *folders)
{
	struct access *a = calloc(1, sizeof(*a));

	if (a == NULL)
		return NULL;
	if (memo_init(&a->answers, ANSWERS_MAX, answer_busy,
	    answer_release) == -1) {
		free(a);
		return NULL;
	}
	if (accounts_init(a) == -1 || verdicts_init(a) == -1) {
		access_free(a);
		return NULL;
	}
	a->loop = loop;
	a->cfg = cfg;
	a->jobs = jobs;
	a->folders = folders;
	warn_unused(cfg);
	return a;
}

void
access_free(struct access *a)
{
	if (a == NULL)
		return;
	memo_clear(&a->answers);
	if (a->accounts.table)
		memo_clear(&a->accounts);
	if (a->verdicts.table)
		memo_clear(&a->verdicts);
	free(a);
}

void
access_reconfigure(struct access *a)
{
	struct memo_entry *e, *next;

	warn_unused(a->cfg);
	/* Another command, or another access mode: ask again. Runs under
	   way finish and are believed. */
	for (e = LIST_FIRST(&a->answers.entries); e; e = next) {
		next = LIST_NEXT(e, entry);
		if (!answer_busy(e))
			memo_drop(&a->answers, e);
	}
	for (e = LIST_FIRST(&a->verdicts.entries); e; e = next) {
		next = LIST_NEXT(e, entry);
		if (!a->verdicts.busy(e))
			memo_drop(&a->verdicts, e);
	}
}

const struct creds *
access_save_as(struct access *a, const struct access_who *who)
{
	const struct creds *c = NULL;
	const char *why;

	if (a->cfg->access != ACCESS_UNIX || who->user == NULL ||
	    access_account(a, NULL, who->user, &c, &why) != PROTO_OK)
		return NULL;
	return c;
}

int
access_may_list(const struct access *a, const struct access_who *who)
{
	return a->cfg->access == ACCESS_OPEN || who->trusted;
}

void
access_stats(const struct access *a, struct access_stats *out)
{
	const struct memo_entry *e;
	long long now = loop_now(a->loop);

	*out = a->stats;
	out->command_cached = 0;
	LIST_FOREACH(e, &a->answers.entries, entry)
		if (now - ((const struct answer *)e)->decided <
		    a->cfg->access_cache_s * 1000LL)
			out->command_cached++;
}

static void
run_done(void *arg, const struct proc_result *res)
{
	struct answer *ans = arg;
	struct access *a = ans->a;
	const char *user = ans->e.key;
	const char *proposal = user + strlen(user) + 1;
	struct job *job = ans->job;

	ans->proc = NULL;
	ans->job = NULL;
	ans->last = job;
	share_give(&a->runs, user);
	if (res->end == PROC_EXITED && WIFEXITED(res->status) &&
	    WEXITSTATUS(res->status) <= 1) {
		ans->allowed = WEXITSTATUS(res->status) == 0;
		ans->decided = loop_now(a->loop);
		ans->failed = 0;
		log_info("access_command", "user=%s proposal=%s allowed=%s "
		    "ms=%lld", log_str(user), proposal,
		    ans->allowed ? "yes" : "no", res->duration_ms);
	} else {
		a->stats.command_failures++;
		ans->failed = 1;
		log_warn("access_command_failed", "user=%s proposal=%s "
		    "reason=%s status=%d ms=%lld", log_str(user), proposal,
		    log_str(res->end == PROC_TIMED_OUT ?
		    "timed out (hook-timeout)" :
		    res->end == PROC_NOT_STARTED ? res->reason :
		    res->end == PROC_LOST ? "lost" :
		    WIFSIGNALED(res->status) ? "killed by a signal" :
		    "exit status neither 0 nor 1"),
		    res->end == PROC_EXITED && WIFEXITED(res->status) ?
		    WEXITSTATUS(res->status) : -1, res->duration_ms);
	}
	if (job)
		job_outside_done(job);
}

/* Starts the access command for ans and makes w wait for it. */
static enum proto_error
run_start(struct access *a, struct answer *ans, struct waiter *w,
    unsigned proposal, const char *access, const char **why)
{
	char user_env[8 + POLICY_MAX_USER], proposal_env[32], fields[64];
	char access_env[16];
	char *env[] = { user_env, proposal_env, access_env,
	    "PATH=" PROC_PATH, NULL };
	struct proc_spec spec = {
		.argv = a->cfg->access_command.argv,
		.env = env,
		.timeout_ms = a->cfg->hook_timeout_s * 1000LL,
		.stderr_event = "access_command_stderr",
		.log_fields = fields,
	};

	/* Beyond its share, a user's check is answered at once rather than
	   queued: a flood of one user's requests (for many proposals) then
	   costs that user retries, never another user's checks. */
	switch (share_take(&a->runs, ans->e.key, RUNS_MAX, RUNS_PER_USER)) {
	case SHARE_TAKEN:
		break;
	case SHARE_USER_FULL:
		*why = "too many access checks of yours are under way; try "
		    "again";
		return PROTO_UNAVAILABLE;
	case SHARE_FULL:
		*why = "too many access checks under way; try again";
		return PROTO_UNAVAILABLE;
	case SHARE_NO_MEMORY:
		*why = "watcherd is out of memory";
		return PROTO_UNAVAILABLE;
	}
	snprintf(user_env, sizeof(user_env), "USER=%s", ans->e.key);
	snprintf(proposal_env, sizeof(proposal_env), "PROPOSAL=%u", proposal);
	snprintf(access_env, sizeof(access_env), "ACCESS=%s", access);
	snprintf(fields, sizeof(fields), "proposal=%u", proposal);
	if ((ans->job = job_outside_new(a->jobs, 0, "the access check is taking "
	    "long; try again")) == NULL ||
	    (ans->proc = proc_start(a->loop, &spec, run_done, ans)) == NULL) {
		if (ans->job)
			job_outside_done(ans->job);
		ans->job = NULL;
		share_give(&a->runs, ans->e.key);
		*why = "watcherd is out of memory";
		return PROTO_UNAVAILABLE;
	}
	a->stats.command_runs++;
	return job_outside_wait(a->jobs, ans->job, w, why);
}

/* The access command's answer for (user, proposal, access): PROTO_OK,
   PROTO_DENIED, PROTO_PENDING or PROTO_UNAVAILABLE. */
static enum proto_error
ask_command(struct access *a, struct waiter *w, const char *user,
    unsigned proposal, const char *access, const char **why)
{
	char key[POLICY_MAX_USER + 32];
	struct answer *ans;
	size_t keylen;
	int n, added;

	n = snprintf(key, sizeof(key), "%s%c%u%c%s", user, 0, proposal, 0,
	    access);
	keylen = (size_t)n + 1;
	if ((ans = (struct answer *)memo_get_or_add(&a->answers, key, keylen,
	    sizeof(*ans), &added)) == NULL) {
		*why = "watcherd is out of memory";
		return PROTO_UNAVAILABLE;
	}
	if (added) {
		ans->a = a;
		ans->decided = LLONG_MIN / 2;
	}
	if (ans->job)
		return job_outside_wait(a->jobs, ans->job, w, why);
	if (w && ans->last && w->result == ans->last) {
		if (!ans->failed)
			return ans->allowed ? PROTO_OK : PROTO_DENIED;
		*why = "the access check failed; try again later";
		return PROTO_UNAVAILABLE;
	}
	if (!ans->failed &&
	    loop_now(a->loop) - ans->decided < a->cfg->access_cache_s * 1000LL)
		return ans->allowed ? PROTO_OK : PROTO_DENIED;
	return run_start(a, ans, w, proposal, access, why);
}

/*
 * Whether an account may be served at all: never root's, watcherd's own,
 * the kernel's overflow uid (nobody) or one below min-uid (system
 * accounts), whatever the web server says. Returns 1 or 0.
 */
static int
account_allowed(const struct access *a, const struct creds *c)
{
	return c->uid != 0 && c->uid != geteuid() && c->uid != 65534 &&
	    c->uid >= a->cfg->min_uid;
}

enum proto_error
access_check(struct access *a, struct waiter *w,
    struct access_grant *g, const struct access_who *who, unsigned proposal, const char *file_name,
    size_t len, int write, const struct file_id *seen, char *detail,
    size_t detail_len, const char **why)
{
	const char *verb = write ? "write" : "read";
	const struct creds *account = NULL;
	enum proto_error e;

	if ((!who->named && who->trusted) ||
	    (g && g->granted == ACCESS_ANY_FILE))
		return PROTO_OK;
	if (g && g->granted == ACCESS_ONE_FILE && (seen == NULL ||
	    file_id_equal(&g->file, seen, 0)))
		return PROTO_OK;
	if (a->cfg->access == ACCESS_OPEN) {
		if (!write)
			return PROTO_OK;
		/* Anybody reads, nobody saves. */
		a->stats.denied++;
		snprintf(detail, detail_len, "nobody may save files under "
		    "access = open");
		*why = detail;
		return PROTO_FORBIDDEN;
	}
	if (!who->named || who->user == NULL) {
		a->stats.unauthenticated++;
		if (!who->named)
			snprintf(detail, detail_len, "a request about a file "
			    "must name its user (\"user\"): only watcherd's "
			    "own user or root may ask without one");
		else
			snprintf(detail, detail_len, "nobody is logged in: log "
			    "in to %s the files of proposal %u", verb, proposal);
		*why = detail;
		return PROTO_UNAUTHENTICATED;
	}
	if (a->cfg->access == ACCESS_UNIX && !creds_available()) {
		snprintf(detail, detail_len, "access = unix needs watcherd to "
		    "run with CAP_SETUID and CAP_SETGID, so that the kernel "
		    "decides with the user's credentials; it has not");
		*why = detail;
		return PROTO_UNAVAILABLE;
	}
	if ((e = access_account(a, w, who->user, &account, why)) != PROTO_OK)
		return e;
	if (account && !account_allowed(a, account)) {
		a->stats.denied++;
		log_info("access_denied", "user=%s proposal=%u access=%s "
		    "want=%s reason=\"a system account (uid %u)\"", log_str(who->user),
		    proposal, config_access_name(a->cfg->access), verb,
		    (unsigned)account->uid);
		snprintf(detail, detail_len, "user %s may not %s the files of "
		    "proposal %u: root's, watcherd's own and system accounts "
		    "(uid below %u) are never served", who->user, verb,
		    proposal, a->cfg->min_uid);
		*why = detail;
		return PROTO_FORBIDDEN;
	}
	if (a->cfg->access == ACCESS_COMMAND)
		e = ask_command(a, w, who->user, proposal, verb, why);
	else if (account == NULL)
		e = PROTO_DENIED;
	else
		e = access_kernel(a, w, g, proposal, file_name, len, account,
		    write, seen, why);
	if (e == PROTO_OK && g && g->granted == ACCESS_NOT_YET)
		g->granted = ACCESS_ANY_FILE;
	if (e != PROTO_DENIED)
		return e;
	a->stats.denied++;
	log_info("access_denied", "user=%s proposal=%u file=%s access=%s "
	    "want=%s", log_str(who->user), proposal, log_strn(file_name, len),
	    config_access_name(a->cfg->access), verb);
	if (a->cfg->access == ACCESS_COMMAND)
		snprintf(detail, detail_len, "user %s may not %s the files "
		    "of proposal %u", who->user, verb, proposal);
	else
		snprintf(detail, detail_len, "user %s may not %s %.*s of "
		    "proposal %u", who->user, verb, (int)len, file_name,
		    proposal);
	*why = detail;
	return PROTO_FORBIDDEN;
}

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <json-c/json.h>

#include "common/crc.h"
#include "common/log.h"
#include "common/msg.h"
#include "common/policy.h"
#include "watcherd/daemon.h"
#include "watcherd/proc.h"
#include "watcherd/save.h"
#include "watcherd/share.h"
#include "watcherd/watch/watch.h"
#include "watcherd/work/job.h"

#define OUTPUT_MAX	(64 << 10)	/* a validator's stdout kept */
#define ITEMS_MAX	200		/* errors and warnings kept, each */
#define DETAIL_MAX	512

enum stage {
	VALIDATING,	/* the validators, one after the other */
	REPLACING,	/* watch_replace() */
	OVER,
};

struct save {
	struct daemon		*d;
	enum stage		 stage;
	int			 orphaned;	/* its client went away */
	unsigned		 proposal;
	char			*file_name;
	char			*user;
	struct creds		*as;		/* NULL: saved as watcherd */
	uint32_t		 if_crc;
	char			*data;
	size_t			 len;
	/* Validation: the next validator to look at, the one running and
	   the job the request waits on meanwhile; a slot of d->validating
	   while validators run; PROTO_INVALID or PROTO_UNAVAILABLE once one
	   refused or could not run. */
	size_t			 next;
	struct proc		*proc;
	struct job		*job;
	int			 slot;
	enum proto_error	 failed;
	struct json_object	*errors, *warnings;
	char			 detail[DETAIL_MAX];
	/* Replacement. */
	int			 started;
	int			 replaced;	/* done was called */
	struct watch_replace_result res;
	/* The answer. */
	enum proto_error	 e;
	const char		*why;
};

static void	save_free(struct save *);

struct save *
save_new(struct daemon *d, unsigned proposal, const char *file_name,
    const char *user, const struct creds *as, uint32_t if_crc, char *data,
    size_t len)
{
	struct save *s = calloc(1, sizeof(*s));

	if (s == NULL) {
		if (data)
			d->saves.held -= len;
		free(data);
		return NULL;
	}
	s->d = d;
	s->proposal = proposal;
	s->if_crc = if_crc;
	s->data = data;
	s->len = len;
	if (data == NULL || (s->file_name = strdup(file_name)) == NULL ||
	    (user && (s->user = strdup(user)) == NULL) ||
	    (as && (s->as = malloc(sizeof(*as))) == NULL) ||
	    (s->errors = json_object_new_array()) == NULL ||
	    (s->warnings = json_object_new_array()) == NULL) {
		save_free(s);
		return NULL;
	}
	if (as)
		*s->as = *as;
	return s;
}

static void
save_free(struct save *s)
{
	if (s->proc)
		proc_abandon(s->proc);
	if (s->slot)
		share_give(&s->d->validating, s->user);
	if (s->job)
		job_outside_done(s->job);
	json_object_put(s->errors);
	json_object_put(s->warnings);
	free(s->file_name);
	free(s->user);
	free(s->as);
	if (s->data)
		s->d->saves.held -= s->len;
	free(s->data);
	free(s);
}

void
save_release(void *arg)
{
	struct save *s = arg;

	/* A replacement under way (its request may have been answered for
	   its time) borrows nothing, but tells s when it is over: s goes
	   then. */
	if (s->started && !s->replaced) {
		s->orphaned = 1;
		return;
	}
	save_free(s);
}

/* Parses "NAME:LINE:COL: message" or "NAME:LINE: message" (NAME may hold
   colons) into o; 0, or -1 for another line. */
static int
parse_item(const char *line, size_t len, struct json_object **o)
{
	const char *p, *end = line + len, *q;
	long ln, col = -1;

	for (p = line; p < end; p++) {
		if (*p != ':' || p + 1 >= end || p[1] < '0' || p[1] > '9')
			continue;
		ln = 0;
		for (q = p + 1; q < end && *q >= '0' && *q <= '9' &&
		    ln < 100000000; q++)
			ln = ln * 10 + (*q - '0');
		if (q >= end || *q != ':')
			continue;
		q++;
		if (q < end && *q >= '0' && *q <= '9') {
			const char *r = q;

			col = 0;
			while (r < end && *r >= '0' && *r <= '9' &&
			    col < 100000000)
				col = col * 10 + (*r++ - '0');
			if (r < end && *r == ':')
				q = r + 1;
			else
				col = -1;
		}
		while (q < end && *q == ' ')
			q++;
		*o = json_object_new_object();
		json_object_object_add(*o, "line", json_object_new_int64(ln));
		json_object_object_add(*o, "column", col >= 0 ?
		    json_object_new_int64(col) : NULL);
		json_object_object_add(*o, "message",
		    json_object_new_string_len(q, (int)(end - q)));
		return 0;
	}
	return -1;
}

/* Files a validator's output: items into errors or warnings, other
   lines into the detail. */
static void
take_output(struct save *s, const char *out, size_t len, int refused)
{
	struct json_object *arr = refused ? s->errors : s->warnings, *o;
	const char *p = out, *end = out + len, *nl;
	size_t used = strlen(s->detail), n;

	while (p < end) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		n = (size_t)(nl - p);
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (n > 0 && parse_item(p, n, &o) == 0) {
			if (json_object_array_length(arr) < ITEMS_MAX)
				json_object_array_add(arr, o);
			else
				json_object_put(o);
		} else if (n > 0 && used + n + 3 < sizeof(s->detail)) {
			if (used)
				s->detail[used++] = ';', s->detail[used++] = ' ';
			memcpy(s->detail + used, p, n);
			used += n;
			s->detail[used] = '\0';
		}
		p = nl + 1;
	}
}

static void	validate_next(struct save *);

/* Why a validator gave no verdict, for the log and for the user. */
static void
no_verdict(struct save *s, const struct proc_result *res)
{
	const struct config *cfg = &s->d->cfg;
	const char *sig;
	char reason[128];

	if (res->end == PROC_TIMED_OUT) {
		snprintf(reason, sizeof(reason), "timed out (hook-timeout)");
		snprintf(s->detail, sizeof(s->detail), "the check of the "
		    "content could not run: it took longer than %u s; try "
		    "again", cfg->hook_timeout_s);
	} else if (res->end == PROC_NOT_STARTED) {
		snprintf(reason, sizeof(reason), "%s", res->reason);
		snprintf(s->detail, sizeof(s->detail), "the check of the "
		    "content could not run: it could not be started; try again "
		    "later");
	} else if (res->end == PROC_EXITED && WIFSIGNALED(res->status)) {
		if ((sig = sigabbrev_np(WTERMSIG(res->status))) == NULL)
			sig = "?";
		snprintf(reason, sizeof(reason), "killed by signal SIG%s", sig);
		snprintf(s->detail, sizeof(s->detail), "the check of the "
		    "content could not run: it was stopped by signal SIG%s, as "
		    "when it needs more than %zu MiB of memory or %u s of CPU "
		    "time; try again", sig, cfg->validate_memory >> 20,
		    cfg->validate_cpu_s);
	} else if (res->end == PROC_EXITED) {
		snprintf(reason, sizeof(reason), "exit status %d",
		    WEXITSTATUS(res->status));
		snprintf(s->detail, sizeof(s->detail), "the check of the "
		    "content could not run: it failed (exit status %d); try "
		    "again", WEXITSTATUS(res->status));
	} else {
		snprintf(reason, sizeof(reason), "lost");
		snprintf(s->detail, sizeof(s->detail), "the check of the "
		    "content could not run; try again");
	}
	log_warn("validator_failed", "proposal=%u file=%s command=%s "
	    "reason=%s ms=%lld", s->proposal, log_str(s->file_name),
	    log_str(cfg->validators[s->next - 1].argv[0]), log_str(reason),
	    res->duration_ms);
}

/* Exit 0 accepts, 1 refuses; anything else (another status, a signal, the
   timeout, no start) is no verdict: the save may be tried again. */
static void
validator_done(void *arg, const struct proc_result *res)
{
	struct save *s = arg;
	int status = res->end == PROC_EXITED && WIFEXITED(res->status) ?
	    WEXITSTATUS(res->status) : -1;

	s->proc = NULL;
	if (status == 0) {
		take_output(s, res->output, res->output_len, 0);
	} else if (status == 1) {
		s->failed = PROTO_INVALID;
		take_output(s, res->output, res->output_len, 1);
		if (s->detail[0] == '\0')
			snprintf(s->detail, sizeof(s->detail), "the check "
			    "refused the content");
	} else {
		s->failed = PROTO_UNAVAILABLE;
		no_verdict(s, res);
	}
	validate_next(s);
}

/* Takes a slot of d->validating for s, or says why not. Returns 0 or -1. */
static int
take_slot(struct save *s)
{
	const struct config *cfg = &s->d->cfg;

	if (s->slot)
		return 0;
	switch (share_take(&s->d->validating, s->user,
	    cfg->validate_max_running, cfg->validate_per_user)) {
	case SHARE_TAKEN:
		s->slot = 1;
		return 0;
	case SHARE_USER_FULL:
		snprintf(s->detail, sizeof(s->detail), "too many checks of "
		    "your saves are under way (validate-per-user, %u); try "
		    "again", cfg->validate_per_user);
		break;
	case SHARE_FULL:
		snprintf(s->detail, sizeof(s->detail), "too many checks of "
		    "saves are under way (validate-max-running); try again");
		break;
	case SHARE_NO_MEMORY:
		snprintf(s->detail, sizeof(s->detail), "watcherd is out of "
		    "memory");
		break;
	}
	return -1;
}

/* Starts the next validator whose pattern matches, or ends validation:
   the request waiting on s->job then resumes (s may be gone on return).
   A save that would run validators beyond validate-per-user or
   validate-max-running is answered unavailable at once rather than made
   to wait: waiting, it would hold its content (up to max-file-size) and a
   connection for as long as others' checks take, and the page retries. */
static void
validate_next(struct save *s)
{
	const struct config *cfg = &s->d->cfg;
	char proposal_env[32], user_env[8 + POLICY_MAX_USER];
	char name_env[16 + POLICY_MAX_NAME];
	char *env[] = { "PATH=" PROC_PATH, proposal_env, name_env,
	    s->user ? user_env : NULL, NULL };
	char fields[64];
	struct proc_spec spec = {
		.env = env,
		.input = s->data,
		.input_len = s->len,
		.output_max = OUTPUT_MAX,
		.timeout_ms = cfg->hook_timeout_s * 1000LL,
		.memory_max = cfg->validate_memory,
		.cpu_max_s = cfg->validate_cpu_s,
		.stderr_event = "validator_stderr",
		.log_fields = fields,
	};
	const struct config_hook *v;
	struct job *job;

	while (s->failed == PROTO_OK && s->next < cfg->n_validators) {
		v = &cfg->validators[s->next];
		if (fnmatch(v->pattern, s->file_name, FNM_PATHNAME) != 0) {
			s->next++;
			continue;
		}
		if (take_slot(s) == -1) {
			s->failed = PROTO_UNAVAILABLE;
			break;
		}
		s->next++;
		snprintf(proposal_env, sizeof(proposal_env), "PROPOSAL=%u",
		    s->proposal);
		snprintf(name_env, sizeof(name_env), "FILE_NAME=%s",
		    s->file_name);
		if (s->user)
			snprintf(user_env, sizeof(user_env), "USER=%s", s->user);
		snprintf(fields, sizeof(fields), "proposal=%u", s->proposal);
		spec.argv = v->argv;
		if ((s->proc = proc_start(s->d->loop, &spec, validator_done,
		    s)) != NULL)
			return;
		s->failed = PROTO_UNAVAILABLE;
		snprintf(s->detail, sizeof(s->detail), "watcherd is out of "
		    "memory");
	}
	if (s->slot) {
		share_give(&s->d->validating, s->user);
		s->slot = 0;
	}
	s->stage = s->failed != PROTO_OK ? OVER : REPLACING;
	if (s->failed != PROTO_OK) {
		s->e = s->failed;
		s->why = s->detail;
	}
	/* Over: the request hears of it, and may be answered and s freed
	   before job_outside_done() returns. */
	if ((job = s->job) != NULL) {
		s->job = NULL;
		job_outside_done(job);
	}
}

static void
replaced(void *arg, const struct watch_replace_result *res)
{
	struct save *s = arg;

	s->replaced = 1;
	s->res = *res;
	if (s->orphaned) {
		if (res->e == PROTO_OK)
			log_warn("file_written_late", "user=%s proposal=%u "
			    "file=%s reason=\"saved after its request was "
			    "answered\"", log_str(s->user), s->proposal,
			    log_str(s->file_name));
		save_free(s);
		return;
	}
	s->stage = OVER;
	s->e = res->e;
	s->why = res->why;
}

/* Counts and logs the answer, once. */
static enum proto_error
answer(struct save *s)
{
	char from[CRC_HEX_LEN + 1], to[CRC_HEX_LEN + 1];

	if (s->e == PROTO_OK) {
		s->d->saves.writes++;
		crc_format(s->if_crc, from);
		crc_format(s->res.st.crc, to);
		log_info("file_written", "user=%s proposal=%u file=%s from=%s "
		    "to=%s size=%lld", log_str(s->user), s->proposal,
		    log_str(s->file_name), from, to, (long long)s->res.st.size);
	} else if (s->e == PROTO_CONFLICT)
		s->d->saves.conflicts++;
	else if (s->e == PROTO_INVALID)
		s->d->saves.invalid++;
	if (s->e != PROTO_OK)
		log_info("file_not_written", "user=%s proposal=%u file=%s "
		    "error=%s detail=%s", log_str(s->user), s->proposal,
		    log_str(s->file_name), proto_error_code(s->e),
		    log_str(s->why));
	return s->e;
}

/* The save is over with e (and why): answered. */
static enum proto_error
over(struct save *s, enum proto_error e, const char *why)
{
	s->e = e;
	s->why = why;
	s->stage = OVER;
	return answer(s);
}

enum proto_error
save_step(struct save *s, struct waiter *w)
{
	enum proto_error e;
	const char *why;

	if (s->stage == VALIDATING) {
		if (s->job == NULL && s->proc == NULL) {
			if ((s->job = job_outside_new(s->d->jobs,
			    (int)s->d->cfg.hook_timeout_s * 1000 + 1000,
			    "the content's check is taking long; try again")) ==
			    NULL)
				return over(s, PROTO_UNAVAILABLE,
				    "watcherd is out of memory");
			validate_next(s);
		}
		if (s->stage == VALIDATING) {
			e = job_outside_wait(s->d->jobs, s->job, w, &why);
			return e == PROTO_PENDING ? e : over(s, e, why);
		}
	}
	if (s->stage == REPLACING) {
		if (!s->started) {
			waiter_restart(s->d->jobs, w);
			e = watch_replace(s->d->watches, w, s->proposal,
			    s->file_name, strlen(s->file_name), s->if_crc,
			    s->data, s->len, s->as, s->user, replaced, s,
			    &s->started, &why);
			return e == PROTO_PENDING ? e : over(s, e, why);
		}
		if (!s->replaced)
			/* Resumed before the end: its time ran out. */
			return over(s, PROTO_UNAVAILABLE, w->detail[0] ?
			    w->detail : "the save is taking long; try again");
	}
	return answer(s);
}

/* A list of errors or warnings as JSON. */
static const char *
items(struct json_object *list)
{
	return json_object_to_json_string_ext(list, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
}

size_t
save_reply_size(const struct save *s)
{
	return 1024 + DETAIL_MAX * 6 + strlen(items(s->errors)) +
	    strlen(items(s->warnings));
}

void
save_reply(const struct save *s, struct msg *m)
{
	const char *errors = items(s->errors), *warnings = items(s->warnings);

	msg_reply_write(m, &(struct msg_write){ .error = s->e,
	    .detail = s->why ? s->why : "",
	    .st = snapshot_msg_state(&s->res.st),
	    .has_current = s->res.current_known, .current = s->res.current,
	    .errors = { errors, strlen(errors) },
	    .warnings = { warnings, strlen(warnings) } });
}

// Tells the page when a file changed: the /events stream (server-sent
// events) where it works, else a long-poll loop on /has_new_checksum?wait=.
//
// The handlers (all optional):
//   changed(ev)    the file changed or was created (ev: watcherd's event,
//                  or {} from a long-poll)
//   deleted()      the file is gone
//   unavailable()  watcherd is away (the stream stays open and says when
//                  it is back)
//   available()    watcherd is back
//   live(how)      "events", "long-poll", or null while not connected
//   broken(err)    the stream could not be opened or was refused; the page
//                  finds out why (its own request) and calls start() again
//                  when the file answers

const POLL_WAIT_S = 25;
const POLL_RETRY_MS = 1000;
const POLL_MISSING_MS = 2000;
// Streams refused in a row while the file itself answers: then long-polls.
const SSE_TRIES = 3;

export class Watcher {
	constructor(api, proposal, file, handlers, { forcePoll = false } = {}) {
		this.api = api;
		this.proposal = proposal;
		this.file = file;
		this.h = handlers;
		this.usePoll = forcePoll || typeof EventSource === "undefined";
		this.sseFailures = 0;
		this.es = null;
		this.poll = null;
	}

	// Whether a stream or a poll loop is running.
	get running() {
		return (this.es !== null && this.es.readyState !== EventSource.CLOSED) ||
		    this.poll !== null;
	}

	// Starts watching unless already watching; checksum is what the page
	// shows (null when it shows nothing yet). getChecksum gives the
	// current one to the long-poll loop.
	start(checksum, getChecksum) {
		if (this.running)
			return;
		this.getChecksum = getChecksum;
		if (this.usePoll)
			this.startPoll();
		else
			this.startEvents(checksum);
	}

	stop() {
		if (this.es) {
			this.es.close();
			this.es = null;
		}
		if (this.poll) {
			this.poll.abort();
			this.poll = null;
		}
	}

	// The file answered while the stream was refused: count a failure of
	// the stream itself (a proxy that buffers, a server without it).
	streamRefusedWhileFileAnswers() {
		if (++this.sseFailures >= SSE_TRIES)
			this.usePoll = true;
	}

	// Calls a handler; returns what it returns (a promise the long-poll
	// loop waits for before it asks again).
	emit(name, ...args) {
		return this.h[name] ? this.h[name](...args) : undefined;
	}

	startEvents(checksum) {
		const es = new EventSource(this.api.eventsUrl(this.proposal, this.file, checksum));
		this.es = es;
		const data = (e) => {
			try {
				return JSON.parse(e.data);
			} catch {
				return {};
			}
		};
		let dropped = false;
		es.onopen = () => {
			this.sseFailures = 0;
			this.emit("live", "events");
			if (dropped) {
				dropped = false;
				this.emit("available");
			}
		};
		es.addEventListener("changed", (e) => this.emit("changed", data(e)));
		es.addEventListener("created", (e) => this.emit("changed", data(e)));
		es.addEventListener("deleted", () => this.emit("deleted"));
		es.addEventListener("unavailable", () => this.emit("unavailable"));
		es.addEventListener("available", () => {
			this.emit("available");
			this.emit("live", "events");
		});
		// The user may no longer read the file: the stream ends, and
		// the page asks why (its answer is the 403 to show).
		es.addEventListener("forbidden", () => {
			es.close();
			this.es = null;
			this.emit("live", null);
			this.emit("broken");
		});
		es.onerror = () => {
			if (this.es !== es)
				return;
			this.emit("live", null);
			// CONNECTING: the connection dropped and EventSource comes
			// back by itself (with Last-Event-ID). CLOSED: the answer was
			// not a stream (404, 503, ...): the page asks why.
			if (es.readyState === EventSource.CLOSED) {
				this.es = null;
				this.emit("broken");
			} else {
				dropped = true;
				this.emit("unavailable");
			}
		};
	}

	async startPoll() {
		const ac = new AbortController();
		this.poll = ac;
		let away = false;
		const pause = (ms) => new Promise((r) => setTimeout(r, ms));
		while (!ac.signal.aborted) {
			const checksum = this.getChecksum() || "00000000";
			try {
				this.emit("live", "long-poll");
				const changed = await this.api.hasNewChecksum(this.proposal, this.file,
				    checksum, POLL_WAIT_S, ac.signal);
				if (away) {
					away = false;
					this.emit("available");
				}
				if (changed === true)
					await this.emit("changed", {});
			} catch (e) {
				if (ac.signal.aborted)
					return;
				this.emit("live", null);
				if (e.kind === "unavailable") {
					if (!away)
						this.emit("unavailable");
					away = true;
					await pause(POLL_RETRY_MS);
				} else if (e.kind === "file") {
					await this.emit("deleted");
					await pause(POLL_MISSING_MS);
				} else {
					this.poll = null;
					this.emit("broken", e);
					return;
				}
			}
		}
	}
}

// The file handler's HTTP API, as README.md's "HTTP API" documents it:
// /file_content (with ETag / If-None-Match, and PUT with If-Match to save),
// /file_tail (offset, generation, max_bytes), /has_new_checksum (wait=),
// /file_history and a kept version (/file_content?version=), and the URL of
// /events. Every call resolves to the parsed answer or throws an
// ApiError that says which of the page's states it stands for.

// A failed call. kind is what the page shows for it:
//   "unavailable"  503, or the web server does not answer (status 0)
//   "proposal"     404 for an unknown proposal (or one without DAMNIT folder)
//   "file"         404 for a missing file
//   "login"        401: nobody logged in, or the login expired
//   "forbidden"    403: not a file that may be served, or not to this user
//   "too-large"    413: over watcherd's max-file-size
//   "conflict"     412: a save whose If-Match the file no longer matches
//   "invalid"      422: a save the server's check refused
//   "error"        anything else (400, 428, 500, ...)
// body is the whole JSON answer when there was one ({} else: a 412's
// checksum, a 422's errors and warnings); retryAfter the seconds of a
// Retry-After header, or null.
export class ApiError extends Error {
	constructor(status, detail, body = {}, retryAfter = null) {
		super(detail);
		this.status = status;
		this.detail = detail;
		this.kind = kindOf(status, detail);
		this.body = body;
		this.retryAfter = retryAfter;
	}
}

function kindOf(status, detail) {
	if (status === 0 || status === 503)
		return "unavailable";
	if (status === 404)
		return /proposal/i.test(detail) ? "proposal" : "file";
	if (status === 401)
		return "login";
	if (status === 403)
		return "forbidden";
	if (status === 413)
		return "too-large";
	if (status === 412)
		return "conflict";
	if (status === 422)
		return "invalid";
	return "error";
}

// Decodes a content or data field per its encoding ("utf-8", or "base64"
// for bytes that are not UTF-8: shown with replacement characters).
export function decodeText(text, encoding) {
	if (encoding !== "base64")
		return text;
	const raw = atob(text);
	const bytes = new Uint8Array(raw.length);
	for (let i = 0; i < raw.length; i++)
		bytes[i] = raw.charCodeAt(i);
	return new TextDecoder("utf-8").decode(bytes);
}

// base: where the handler is mounted, relative to the page ("./filehandler/").
// onUser(name): called with the user the web server says is logged in
// (the handler's X-Remote-User), whenever an answer names one.
export function createApi(base, { onUser } = {}) {
	const root = new URL(base, document.baseURI);

	function url(route, params) {
		const u = new URL(route, root);
		for (const [k, v] of Object.entries(params))
			if (v !== undefined && v !== null)
				u.searchParams.set(k, String(v));
		return u;
	}

	// One request (a GET unless method and body say otherwise); null for
	// a 304, else the parsed JSON body.
	async function call(route, params, { signal, headers, method = "GET", body: sent } = {}) {
		let res;
		try {
			res = await fetch(url(route, params),
			    { signal, headers, method, body: sent, cache: "no-store" });
		} catch (e) {
			if (signal && signal.aborted)
				throw e;
			throw new ApiError(0, "the web server does not answer");
		}
		const user = res.headers.get("X-Remote-User");
		if (user && onUser)
			onUser(user);
		if (res.status === 304)
			return null;
		let body = null;
		try {
			body = await res.json();
		} catch (e) {
			if (signal && signal.aborted)
				throw e;
			if (res.ok)
				throw new ApiError(500, "the answer is not JSON");
		}
		if (!res.ok) {
			const retry = parseInt(res.headers.get("Retry-After"), 10);
			throw new ApiError(res.status, (body && body.detail) || res.statusText,
			    body && typeof body === "object" ? body : {}, Number.isFinite(retry) ? retry : null);
		}
		return body;
	}

	return {
		// The whole file; null when etag (a previous answer's checksum)
		// still holds.
		content(proposal, file, etag, signal) {
			const headers = etag ? { "If-None-Match": `"${etag}"` } : {};
			return call("file_content", { proposal, file_name: file }, { signal, headers });
		},

		// The bytes from offset on, at most maxBytes; generation from the
		// previous answer (the answer says reset when it no longer holds).
		tail(proposal, file, { offset, generation, maxBytes, wait }, signal) {
			return call("file_tail", {
				proposal, file_name: file, offset, generation,
				max_bytes: maxBytes, wait,
			}, { signal });
		},

		// The file's kept versions: {kept, versions: [{checksum, time,
		// size, user, source}, ...]}, newest first.
		history(proposal, file, signal) {
			return call("file_history", { proposal, file_name: file }, { signal });
		},

		// The kept version of checksum: /file_content's answer (its time
		// as mtime); an ApiError "file" when it is gone.
		version(proposal, file, checksum, signal) {
			return call("file_content", { proposal, file_name: file, version: checksum },
			    { signal });
		},

		// true once the file's checksum differs from checksum, within wait
		// seconds (0 to 30).
		hasNewChecksum(proposal, file, checksum, wait, signal) {
			return call("has_new_checksum", { proposal, file_name: file, checksum, wait },
			    { signal });
		},

		// Saves text (UTF-8) as the file's new content, if the file is
		// still what checksum names (the content the edit started from).
		// Resolves to {checksum, size, mtime, warnings: [{line, column,
		// message}]}; throws an ApiError: "conflict" (body.checksum: the
		// file's current one), "invalid" (body.errors, body.warnings),
		// "login", "forbidden", "too-large", "unavailable" (retryAfter).
		save(proposal, file, text, checksum) {
			return call("file_content", { proposal, file_name: file }, {
				method: "PUT",
				body: text,
				headers: {
					"If-Match": `"${checksum}"`,
					"Content-Type": "text/plain; charset=utf-8",
				},
			});
		},

		// The /events stream; lastId (the checksum the page shows) gets an
		// immediate "changed" when the file differs already.
		eventsUrl(proposal, file, lastId) {
			return url("events", { proposal, file_name: file, last_event_id: lastId }).href;
		},
	};
}

// Syntax highlighting off the page's thread: highlight-worker.js runs Prism
// over the whole file (so that strings and comments spanning lines come out
// right) and answers one HTML string per line. A page without workers, or
// a worker that fails, shows plain text.

export class Highlighter {
	constructor(url) {
		this.seq = 0;
		this.waiting = new Map();
		try {
			this.worker = new Worker(url);
		} catch {
			this.worker = null;
			return;
		}
		this.worker.onmessage = (e) => {
			const done = this.waiting.get(e.data.id);
			this.waiting.delete(e.data.id);
			if (done)
				done(e.data.lines);
		};
		this.worker.onerror = () => {
			this.worker = null;
			for (const done of this.waiting.values())
				done(null);
			this.waiting.clear();
		};
	}

	// Resolves to the highlighted lines of text (split at "\n"), or null.
	highlight(text, language) {
		if (!this.worker)
			return Promise.resolve(null);
		const id = ++this.seq;
		return new Promise((resolve) => {
			this.waiting.set(id, resolve);
			this.worker.postMessage({ id, text, language });
		});
	}
}

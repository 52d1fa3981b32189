// The worker of highlight.js: tokenizes a whole file with Prism and cuts
// the token tree into lines, closing the spans open at each line's end and
// opening them again on the next, so that every line is HTML of its own.

self.Prism = { manual: true, disableWorkerMessageHandler: true };
importScripts("vendor/prism.js");

function escapeHtml(s) {
	return s.replace(/[&<>"]/g, (c) =>
	    c === "&" ? "&amp;" : c === "<" ? "&lt;" : c === ">" ? "&gt;" : "&quot;");
}

function toLines(tokens) {
	const lines = [], open = [];
	let cur = "";
	const text = (s) => {
		const parts = s.split("\n");
		for (let i = 0; i < parts.length; i++) {
			if (i > 0) {
				lines.push(cur + "</span>".repeat(open.length));
				cur = open.map((c) => `<span class="${c}">`).join("");
			}
			cur += escapeHtml(parts[i].endsWith("\r") ? parts[i].slice(0, -1) : parts[i]);
		}
	};
	const walk = (t) => {
		if (typeof t === "string")
			return text(t);
		if (Array.isArray(t))
			return t.forEach(walk);
		const cls = ["token", t.type].concat(t.alias || []).join(" ");
		open.push(cls);
		cur += `<span class="${cls}">`;
		walk(t.content);
		open.pop();
		cur += "</span>";
	};
	walk(tokens);
	lines.push(cur);
	return lines;
}

self.onmessage = (e) => {
	const { id, text, language } = e.data;
	const grammar = Prism.languages[language];
	let lines = null;
	if (grammar) {
		try {
			lines = toLines(Prism.tokenize(text, grammar));
		} catch {
			lines = null;
		}
	}
	self.postMessage({ id, lines });
};

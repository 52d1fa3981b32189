// Small helpers the page's modules share for building their DOM.

// An element tag of className (none: null) holding text (none: null).
export function el(tag, className, text) {
	const e = document.createElement(tag);
	if (className)
		e.className = className;
	if (text != null)
		e.textContent = text;
	return e;
}

// "1 line", "2 lines", "1,234 lines".
export function plural(n, word) {
	return `${n.toLocaleString("en")} ${word}${n === 1 ? "" : "s"}`;
}

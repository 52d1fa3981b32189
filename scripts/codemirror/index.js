// What the file page's editor (www/editor.js) takes from CodeMirror 6;
// ./build bundles it, with everything it imports, into
// www/vendor/codemirror.js.
export { Compartment, EditorState, StateEffect, StateField } from "@codemirror/state";
export {
	Decoration, EditorView, WidgetType, crosshairCursor, drawSelection, dropCursor,
	highlightActiveLine, highlightActiveLineGutter, highlightSpecialChars, keymap, lineNumbers,
	rectangularSelection,
} from "@codemirror/view";
export { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
export {
	HighlightStyle, bracketMatching, foldGutter, foldKeymap, indentOnInput, indentUnit,
	syntaxHighlighting,
} from "@codemirror/language";
export { tags } from "@lezer/highlight";
export { python } from "@codemirror/lang-python";
export { highlightSelectionMatches, searchKeymap } from "@codemirror/search";
export { closeBrackets, closeBracketsKeymap } from "@codemirror/autocomplete";
export { forEachDiagnostic, lintGutter, lintKeymap, setDiagnostics } from "@codemirror/lint";

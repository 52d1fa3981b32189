// What the file page's merge (www/merge.js) takes from node-diff3; ./build
// bundles it into www/vendor/diff3.js.
export { diff3MergeRegions, diffIndices } from "node-diff3";

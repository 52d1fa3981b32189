/*
 * node-diff3 3.2.1 (MIT, https://github.com/bhousel/node-diff3)
 * for the file page's three-way merge: one ES module bundled by
 * scripts/diff3/build (esbuild 0.28.2, --minify) from scripts/diff3/index.js.
 *
 * The MIT License (MIT)
 *
 * diff function extracted from Project Synchrotron.
 *
 * For more detail please visit:
 * - https://leastfixedpoint.com/tonyg/kcbbs/projects/synchrotron.html
 * - https://github.com/tonyg/synchrotron
 *
 * Copyright (c) 2006, 2008 Tony Garnock-Jones <tonyg@lshift.net>
 * Copyright (c) 2006, 2008 LShift Ltd. <query@lshift.net>
 * Copyright (c) 2019-2026 Bryan Housel <bhousel@gmail.com>
 *
 * Permission is hereby granted, free of charge, to any person
 * obtaining a copy of this software and associated documentation files
 * (the "Software"), to deal in the Software without restriction,
 * including without limitation the rights to use, copy, modify, merge,
 * publish, distribute, sublicense, and/or sell copies of the Software,
 * and to permit persons to whom the Software is furnished to do so,
 * subject to the following conditions:
 *
 * The above copyright notice and this permission notice shall be
 * included in all copies or substantial portions of the Software.
 *
 * THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND,
 * EXPRESS OR IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF
 * MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
 * NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS
 * BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN
 * ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN
 * CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
 * SOFTWARE.
 */
function v(i,r){let o=Object.create(null);for(let n=0;n<r.length;n++){let f=r[n];o[f]?o[f].push(n):o[f]=[n]}let t=[{buffer1index:-1,buffer2index:-1,chain:null}];for(let n=0;n<i.length;n++){let f=i[n],b=o[f]||[],e=0,c=t[0];for(let u of b){let a;for(a=e;a<t.length&&!(t[a].buffer2index<u&&(a===t.length-1||t[a+1].buffer2index>u));a++);if(a<t.length){let l={buffer1index:n,buffer2index:u,chain:t[a]};if(e===t.length?t.push(c):t[e]=c,e=a+1,c=l,e===t.length)break}}t[e]=c}return t[t.length-1]}function S(i,r){let o=v(i,r),s=[],t=i.length,n=r.length;for(let f=o;f!==null;f=f.chain){let b=t-f.buffer1index-1,e=n-f.buffer2index-1;t=f.buffer1index,n=f.buffer2index,(b||e)&&s.push({buffer1:[t+1,b],buffer1Content:i.slice(t+1,t+1+b),buffer2:[n+1,e],buffer2Content:r.slice(n+1,n+1+e)})}return s.reverse(),s}function M(i,r,o){let s=[];function t(e,c){s.push({ab:c,oStart:e.buffer1[0],oLength:e.buffer1[1],abStart:e.buffer2[0],abLength:e.buffer2[1]})}S(r,i).forEach(e=>t(e,"a")),S(r,o).forEach(e=>t(e,"b")),s.sort((e,c)=>e.oStart-c.oStart);let n=[],f=0;function b(e){e>f&&(n.push({stable:!0,buffer:"o",bufferStart:f,bufferLength:e-f,bufferContent:r.slice(f,e)}),f=e)}for(;s.length;){let e=s.shift(),c=e.oStart,u=e.oStart+e.oLength,a=[e];for(b(c);s.length;){let l=s[0],d=l.oStart;if(d>u)break;u=Math.max(u,d+l.oLength),a.push(s.shift())}if(a.length===1){if(e.abLength>0){let l=e.ab==="a"?i:o;n.push({stable:!0,buffer:e.ab,bufferStart:e.abStart,bufferLength:e.abLength,bufferContent:l.slice(e.abStart,e.abStart+e.abLength)})}}else{let l={a:[i.length,-1,r.length,-1],b:[o.length,-1,r.length,-1]};for(;a.length;){e=a.shift();let C=e.oStart,p=C+e.oLength,L=e.abStart,E=L+e.abLength,h=l[e.ab];h[0]=Math.min(L,h[0]),h[1]=Math.max(E,h[1]),h[2]=Math.min(C,h[2]),h[3]=Math.max(p,h[3])}let d=l.a[0]+(c-l.a[2]),m=l.a[1]+(u-l.a[3]),g=l.b[0]+(c-l.b[2]),x=l.b[1]+(u-l.b[3]),k={stable:!1,aStart:d,aLength:m-d,aContent:i.slice(d,m),oStart:c,oLength:u-c,oContent:r.slice(c,u),bStart:g,bLength:x-g,bContent:o.slice(g,x)};n.push(k)}f=u}return b(r.length),n}export{M as diff3MergeRegions,S as diffIndices};

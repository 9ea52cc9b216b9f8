// The playground page served at GET / (embedded: no external scripts, fonts or
// styles). Generate mode streams a completion with logprobs and colours each
// token by its rank bucket (GLTR colours, as `gpt2 score --html`); evaluate mode
// echoes the prompt with its log-probs (max_tokens 0), coloured the same way.
// URL parameters: prompt, mode (generate|evaluate), max_tokens, temperature,
// top_p, top_k, seed, and run=1 to start at once.
#include "serve/playground.hpp"

namespace gpt2::serve {

const char* playground_html() {
  return R"HTML(<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>gpt2 serve playground</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font-family:sans-serif;margin:1.5em auto;max-width:60em;padding:0 1em;color:#222}
textarea{width:100%;height:7em;font-family:monospace;font-size:14px;box-sizing:border-box}
label{margin-right:1em;font-size:14px;white-space:nowrap}
input[type=number]{width:5.5em}
button{font-size:15px;padding:.3em 1em;margin-right:.5em}
#out{white-space:pre-wrap;font-family:monospace;font-size:15px;border:1px solid #ccc;padding:.6em;min-height:6em;margin-top:1em;line-height:1.6}
#out span.t{border-radius:2px}
.b0{background:#ADFF80}.b1{background:#FFEA80}.b2{background:#FF9280}.b3{background:#E5B0FF}
.legend span{padding:0 .4em;margin-right:.3em;font-size:13px}
#stats{font-size:13px;color:#555;margin-top:.4em}
#err{color:#b00;font-size:14px}
</style></head><body>
<h2>gpt2 serve playground</h2>
<textarea id="prompt" placeholder="Prompt">The quick brown fox</textarea>
<div style="margin:.5em 0">
<label>max tokens <input id="max_tokens" type="number" value="64" min="1"></label>
<label>temperature <input id="temperature" type="number" value="0.8" step="0.1" min="0" max="2"></label>
<label>top_p <input id="top_p" type="number" value="1" step="0.05" min="0.01" max="1"></label>
<label>top_k <input id="top_k" type="number" value="40" min="0"></label>
<label>seed <input id="seed" type="number" placeholder="random"></label>
<label>API key <input id="key" type="password" size="10"></label>
</div>
<button id="gen">Generate</button><button id="eval">Evaluate</button><button id="stop" disabled>Stop</button>
<span class="legend">rank: <span class="b0">&le;10</span><span class="b1">&le;100</span><span class="b2">&le;1000</span><span class="b3">&gt;1000</span></span>
<div id="out"></div>
<div id="stats"></div><div id="err"></div>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const out = $("out"), stats = $("stats"), err = $("err");
let controller = null;
function bucket(rank) { return rank <= 10 ? 0 : rank <= 100 ? 1 : rank <= 1000 ? 2 : 3; }
function piece(text, rank, logprob) {
  const s = document.createElement("span");
  s.textContent = text;
  if (rank !== null && rank !== undefined) {
    s.className = "t b" + bucket(rank);
    s.title = "rank " + rank + ", logprob " + logprob.toFixed(3);
  }
  out.appendChild(s);
}
function headers() {
  const h = {"Content-Type": "application/json"};
  const k = $("key").value;
  if (k) { h["Authorization"] = "Bearer " + k; localStorage.setItem("gpt2-key", k); }
  return h;
}
function settings() {
  const b = {prompt: $("prompt").value, max_tokens: +$("max_tokens").value, temperature: +$("temperature").value,
             top_p: +$("top_p").value, top_k: +$("top_k").value, logprobs: 1, ranks: true};
  if ($("seed").value !== "") b.seed = +$("seed").value;
  return b;
}
function busy(on) { $("gen").disabled = on; $("eval").disabled = on; $("stop").disabled = !on; }
async function failed(r) {
  let m = r.status + " " + r.statusText;
  try { m = (await r.json()).error.message; } catch (e) {}
  err.textContent = m;
}
async function generate() {
  out.textContent = ""; err.textContent = ""; stats.textContent = "";
  const body = settings();
  body.stream = true;
  piece(body.prompt, null, 0);
  controller = new AbortController(); busy(true);
  const t0 = performance.now(); let first = 0, n = 0;
  try {
    const r = await fetch("/v1/completions", {method: "POST", headers: headers(), body: JSON.stringify(body),
                                              signal: controller.signal});
    if (!r.ok) { await failed(r); return; }
    const reader = r.body.getReader(), dec = new TextDecoder();
    let buf = "";
    for (;;) {
      const {value, done} = await reader.read();
      if (done) break;
      buf += dec.decode(value, {stream: true});
      let at;
      while ((at = buf.indexOf("\n\n")) >= 0) {
        const line = buf.slice(0, at); buf = buf.slice(at + 2);
        if (!line.startsWith("data: ")) continue;
        const data = line.slice(6);
        if (data === "[DONE]") continue;
        const j = JSON.parse(data);
        if (j.error) { err.textContent = j.error.message; continue; }
        for (const c of j.choices) {
          const lp = c.logprobs;
          if (lp && lp.tokens.length) {
            n += lp.tokens.length;
            if (!first) first = performance.now();
            piece(c.text, lp.token_ranks[0], lp.token_logprobs[0]);
          } else if (c.text) piece(c.text, null, 0);
        }
        const s = (performance.now() - t0) / 1000;
        stats.textContent = n + " tokens, " + (first ? ((first - t0).toFixed(0) + " ms to the first, ") : "") +
                            (n / Math.max(s, 1e-3)).toFixed(1) + " tokens/s";
      }
    }
  } catch (e) { if (e.name !== "AbortError") err.textContent = String(e); }
  finally { busy(false); controller = null; }
}
async function evaluate() {
  out.textContent = ""; err.textContent = ""; stats.textContent = "";
  const body = settings();
  body.echo = true; body.max_tokens = 0;
  busy(true);
  const t0 = performance.now();
  try {
    const r = await fetch("/v1/completions", {method: "POST", headers: headers(), body: JSON.stringify(body)});
    if (!r.ok) { await failed(r); return; }
    const lp = (await r.json()).choices[0].logprobs;
    let nll = 0, n = 0;
    for (let i = 0; i < lp.tokens.length; i++) {
      piece(lp.tokens[i], lp.token_ranks[i], lp.token_logprobs[i] ?? 0);
      if (lp.token_logprobs[i] !== null) { nll -= lp.token_logprobs[i]; n++; }
    }
    stats.textContent = n + " tokens scored, perplexity " + Math.exp(nll / Math.max(n, 1)).toFixed(2) + ", " +
                        (performance.now() - t0).toFixed(0) + " ms";
  } catch (e) { err.textContent = String(e); }
  finally { busy(false); }
}
$("gen").onclick = generate;
$("eval").onclick = evaluate;
$("stop").onclick = () => { if (controller) controller.abort(); };
$("key").value = localStorage.getItem("gpt2-key") || "";
const q = new URLSearchParams(location.search);
for (const k of ["prompt", "max_tokens", "temperature", "top_p", "top_k", "seed", "key"]) if (q.has(k)) $(k).value = q.get(k);
if (q.get("run") === "1") (q.get("mode") === "evaluate" ? evaluate : generate)();
</script></body></html>
)HTML";
}

}  // namespace gpt2::serve

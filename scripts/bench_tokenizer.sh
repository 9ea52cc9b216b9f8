#!/usr/bin/env bash
# Tokenizer throughput benchmark: builds a few MB of mixed text (English prose,
# C++ code, synthetic multilingual text, emoji) and times `gpt2 encode` on it.
# Prints the encode call's own MB/s (one thread, from --stats; wall-clock, and
# per second of the thread's CPU time, which other processes' load does not
# dilute) and the wall time of the whole command (including loading the vocabulary).
#
# Usage: scripts/bench_tokenizer.sh [runs]      (default 5 runs, best is kept)
# Env:   GPT2_BIN   the binary (default: build/gpt2)
#        KEEP_CORPUS=path   also write the corpus there
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
BIN=${GPT2_BIN:-build/gpt2}
if [ ! -x "$BIN" ]; then
  echo "bench_tokenizer: $BIN not found; build first (scripts/build.sh) or set GPT2_BIN" >&2
  exit 1
fi
command -v python3 >/dev/null || { echo "bench_tokenizer: needs python3 (scripts/setup.sh installs it)" >&2; exit 1; }

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
CORPUS="$WORK/corpus.txt"

python3 - "$CORPUS" <<'PY'
import glob, json, random, sys
random.seed(20240601)
out = []
# English prose: tinyshakespeare (1.1 MB), from the test fixtures.
vectors = json.load(open("tests/data/tokenizer/vectors.json", encoding="utf-8"))
out.append(vectors["corpus_checks"][0]["text"])
# Code: this repository's C++ sources and scripts.
code = []
for pattern in ("src/**/*.cpp", "src/**/*.hpp", "include/**/*.hpp", "tests/**/*.cpp", "scripts/*.sh", "CMakeLists.txt"):
    for path in sorted(glob.glob(pattern, recursive=True)):
        code.append(open(path, encoding="utf-8", errors="replace").read())
code = "\n".join(code)
while len(code) < 900_000:
    code += "\n" + code
out.append(code[:900_000])
# Multilingual: the published test sentences, then synthetic words in eight scripts
# (random syllables, so most words are new to the piece cache).
out.append("\n".join(v["text"] for v in vectors["tokenizer_vectors"]))
scripts = {
    "latin": "abcdefghijklmnopqrstuvwxyzéèêàçñöüß",
    "greek": "αβγδεζηθικλμνξοπρστυφχψω",
    "cyrillic": "абвгдежзийклмнопрстуфхцчшщыэюя",
    "arabic": "ابتثجحخدذرزسشصضطظعغفقكلمنهوي",
    "devanagari": "कखगघचछजझटठडढणतथदधनपफबभमयरलवशषसह" + "ािीुूेैोौं्",
    "cjk": "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年",
    "hiragana": "あいうえおかきくけこさしすせそたちつてとなにぬねのはひふへほまみむめも",
    "hangul": "가나다라마바사아자차카타파하고노도로모보소오조초코토포호",
}
names = list(scripts)
multi = []
size = 0
while size < 1_000_000:
    alphabet = scripts[random.choice(names)]
    words = ["".join(random.choice(alphabet) for _ in range(random.randint(1, 8)))
             for _ in range(random.randint(4, 14))]
    if random.random() < 0.3:
        words.insert(random.randrange(len(words)), str(random.randint(0, 99999)))
    sentence = " ".join(words) + random.choice([". ", "? ", "! ", "، ", "。", "\n"])
    multi.append(sentence)
    size += len(sentence.encode("utf-8"))
out.append("".join(multi))
# Emoji: plain, skin tones, ZWJ families, flags, keycaps, mixed with short text.
emoji = ["😀", "😂", "🤗", "🚀", "🌍", "✨", "🎉", "❤️", "👍🏽", "👋🏿", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇫🇷", "🇯🇵", "🇧🇷", "1️⃣", "🧑‍💻"]
parts = []
size = 0
while size < 300_000:
    s = "".join(random.choice(emoji) for _ in range(random.randint(1, 4)))
    s += random.choice([" ", " ok ", "\n", "!! ", " lol "])
    parts.append(s)
    size += len(s.encode("utf-8"))
out.append("".join(parts))
open(sys.argv[1], "w", encoding="utf-8").write("\n".join(out))
PY

if [ -n "${KEEP_CORPUS:-}" ]; then cp "$CORPUS" "$KEEP_CORPUS"; fi
BYTES=$(wc -c <"$CORPUS")
echo "corpus: $BYTES bytes (prose, code, multilingual, emoji)"
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) cores; load: $(cut -d' ' -f1-3 /proc/loadavg)"

best_mbs=0
best_cpu=0
best_wall=999999
for i in $(seq "$RUNS"); do
  start=$(date +%s.%N)
  stats=$("$BIN" encode --file "$CORPUS" --count --stats 2>&1 >"$WORK/count")
  end=$(date +%s.%N)
  mbs=$(sed -n 's/.*(\([0-9.]*\) MB\/s, one thread.*/\1/p' <<<"$stats")
  cpu=$(sed -n 's/.*; \([0-9.]*\) MB\/s of its CPU time.*/\1/p' <<<"$stats")
  wall=$(python3 -c "print(f'{$end - $start:.3f}')")
  echo "run $i: $(cat "$WORK/count") tokens; $stats; whole command ${wall} s"
  best_mbs=$(python3 -c "print(max($best_mbs, $mbs))")
  best_cpu=$(python3 -c "print(max($best_cpu, $cpu))")
  best_wall=$(python3 -c "print(min($best_wall, $wall))")
done
echo "best: encode ${best_mbs} MB/s wall-clock, ${best_cpu} MB/s of CPU time (one thread); whole command ${best_wall} s for ${BYTES} bytes"

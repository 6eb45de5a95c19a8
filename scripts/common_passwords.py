#!/usr/bin/env python3
"""Writes src/domain/common_passwords.txt: passwords of 12 or more characters that
people pick because they are easy to remember, built from well-known patterns
(keyboard walks, digit runs, repeated characters, common words and pinyin with
years, dates and lucky numbers). Shorter passwords are refused by length anyway.
Run from the repository root; the output is sorted and lower-case."""

import itertools

MIN = 12
words = """password passw0rd p@ssw0rd p@ssword qwerty qwertyuiop asdfgh asdfghjkl zxcvbnm
iloveyou iloveu admin administrator welcome letmein monkey dragon sunshine princess football
baseball basketball master shadow superman batman michael jennifer jordan hunter ranger
trustno1 whatever freedom charlie starwars computer internet secret changeme default login
test tester guest root manager service support customer shop store online china beijing
shanghai shenzhen guangzhou hangzhou woaini woaiwojia wodemima mima zhangwei wangwei
wangfang liwei lina zhangmin liujie taobao tianmao jingdong pinduoduo alibaba alipay
weixin wechat qq163 kefu xiaoer dianxiaoer kefu123 huawei xiaomi apple samsung google
facebook linkedin microsoft windows summer winter spring autumn happy lucky love
lovely forever family friend mother father daughter flower butterfly chocolate cookie
pokemon naruto abc abcdef abcdefg abcdefgh aaaaaa qazwsx zaqwsx 1qaz2wsx qweasd qweasdzxc
asdasd zxczxc fuckyou killer soccer hockey killer ninja mustang access flower cheese
""".split()
suffixes = ["", "1", "12", "123", "1234", "12345", "123456", "1234567", "12345678",
            "123456789", "!", "!!", "@", "#", "1!", "123!", "@123", "#123", "_123", ".123",
            "666", "888", "999", "520", "1314", "5201314", "000", "111", "007", "2580", "147258"]
suffixes += [str(y) for y in range(1980, 2027)]
suffixes += [f"@{y}" for y in range(2018, 2027)] + [f"{y}!" for y in range(2018, 2027)]

out = set()
for w, s in itertools.product(words, suffixes):
    out.add(w + s)
for a, b in itertools.product(words[:30], words[:30]):
    out.add(a + b)

digits = "1234567890"
for start in range(10):
    for n in range(MIN, 21):
        out.add("".join(digits[(start + i) % 10] for i in range(n)))
        out.add("".join(digits[(start - i) % 10] for i in range(n)))
for c in "abcdefghijklmnopqrstuvwxyz0123456789!@#*.":
    for n in range(MIN, 21):
        out.add(c * n)
for pair in ["12", "123", "1234", "abc", "ab", "qwe", "asd", "zxc", "520", "a1", "1a", "qaz"]:
    for n in range(2, 9):
        out.add(pair * n)
walks = ["qwertyuiop", "asdfghjkl", "zxcvbnm", "1qaz2wsx3edc4rfv5tgb", "zaq12wsxcde34rfv",
         "1q2w3e4r5t6y7u8i9o0p", "q1w2e3r4t5y6u7i8o9p0", "qazwsxedcrfvtgb", "!qaz@wsx#edc$rfv",
         "qweasdzxc123", "1234qwerasdfzxcv", "qwer1234asdf", "asdf1234qwer", "poiuytrewq",
         "mnbvcxzlkjhgfdsa", "0987654321poiuytrewq"]
for w in walks:
    for n in range(MIN, len(w) + 1):
        out.add(w[:n])
    for s in suffixes[:20]:
        out.add(w + s)
for y in range(1970, 2011):
    for m in range(1, 13):
        out.add(f"{y}{m:02d}01{y}")
# Phone-shaped numbers people use: 138/139 followed by runs.
for head in ["130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "186", "188"]:
    for tail in ["00000000", "88888888", "12345678", "87654321", "66666666"]:
        out.add(head + tail + "a")
        out.add("a" + head + tail)

kept = sorted(p.lower() for p in out if len(p) >= MIN)
with open("src/domain/common_passwords.txt", "w") as f:
    f.write("\n".join(sorted(set(kept))) + "\n")
print(len(set(kept)), "passwords")

"""The fictional world the documents are written about: organisations,
people, places, dates, amounts and identifiers, drawn from one seeded random
source so that a seed always yields the same corpus."""

from __future__ import annotations

import datetime
import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Org:
    name: str
    short: str
    city: str
    domain: str


EN_ORGS = [
    Org("Kestrel Analytics Ltd", "Kestrel", "Leeds", "kestrel-analytics.co.uk"),
    Org("Harbourview Logistics Ltd", "Harbourview", "Bristol", "harbourview.co.uk"),
    Org("Ashford Engineering Group", "Ashford", "Birmingham", "ashford-eng.co.uk"),
    Org("Brightwater Foods plc", "Brightwater", "Manchester", "brightwaterfoods.co.uk"),
]

ZH_ORGS = [
    Org("华东精密机械有限公司", "华东精密", "苏州", "hdjm.com.cn"),
    Org("鸿远物流集团有限公司", "鸿远物流", "武汉", "hongyuan-logistics.cn"),
    Org("启明医疗器械股份有限公司", "启明医疗", "杭州", "qiming-med.cn"),
    Org("江南绿源食品有限公司", "江南绿源", "无锡", "jnlvyuan.cn"),
]

EN_SUPPLIERS = [  # (name, short name, address)
    ("Spotless Facility Services Ltd", "Spotless", "14 Canal Street, Leeds LS2 7EH"),
    ("Northern Lift and Hoist Ltd", "Northern Lift", "Unit 3, Riverside Park, Sheffield S9 2RT"),
    ("Bluefin Networks Ltd", "Bluefin", "88 Temple Way, Bristol BS1 6AA"),
    ("Cobalt Office Interiors Ltd", "Cobalt", "2 Mill Lane, Nottingham NG1 4FQ"),
    ("Greenleaf Catering Co.", "Greenleaf", "41 Market Row, York YO1 8AJ"),
    ("Pennine Freight Ltd", "Pennine Freight", "Junction 27 Business Park, Leeds LS27 0BN"),
    ("Meridian Software Ltd", "Meridian", "Quay House, Cardiff CF10 5AL"),
    ("Oakridge Security Services Ltd", "Oakridge", "9 Hope Street, Liverpool L1 9BP"),
    ("Thamesbank Property Ltd", "Thamesbank", "120 Borough High Street, London SE1 1LB"),
    ("Ironbridge Print Solutions", "Ironbridge", "7 Foundry Road, Telford TF3 4NB"),
    ("Clearwater Hygiene Ltd", "Clearwater", "Lakeside House, Preston PR2 9ZF"),
    ("Summit Fleet Management Ltd", "Summit Fleet", "31 Park Row, Nottingham NG1 6GR"),
    ("Albion Estates Ltd", "Albion Estates", "5 Castle Square, Cardiff CF10 1BT"),
    ("Redwing Haulage Ltd", "Redwing", "Ferry Road Depot, Hull HU13 0DG"),
    ("Lattice IT Support Ltd", "Lattice", "17 Kings Parade, Cambridge CB2 1SJ"),
    ("Copperfield Machine Tools Ltd", "Copperfield", "Unit 9, Tyseley Industrial Estate, Birmingham B11 2AB"),
]

ZH_SUPPLIERS = [  # (名称, 简称, 地址)
    ("上海洁诚物业服务有限公司", "洁诚物业", "上海市闵行区虹梅南路1880号"),
    ("苏州恒通电梯工程有限公司", "恒通电梯", "苏州市工业园区星湖街218号"),
    ("南京云启网络科技有限公司", "云启网络", "南京市建邺区江东中路369号"),
    ("杭州博安安防技术有限公司", "博安安防", "杭州市滨江区江南大道588号"),
    ("武汉顺达货运有限公司", "顺达货运", "武汉市东西湖区走马岭街道汇通大道6号"),
    ("成都新锐软件股份有限公司", "新锐软件", "成都市高新区天府大道北段1700号"),
    ("广州美宜餐饮管理有限公司", "美宜餐饮", "广州市天河区体育西路103号"),
    ("无锡锦程办公家具有限公司", "锦程家具", "无锡市新吴区长江路21号"),
    ("深圳市普瑞检测技术有限公司", "普瑞检测", "深圳市南山区科技园南区高新南七道12号"),
    ("天津海港仓储有限公司", "海港仓储", "天津市滨海新区东疆港区亚洲路6975号"),
    ("西安秦岭印务有限公司", "秦岭印务", "西安市雁塔区科技路48号"),
    ("重庆渝通车辆租赁有限公司", "渝通租赁", "重庆市渝北区金开大道68号"),
    ("苏州金鸡湖置业有限公司", "金鸡湖置业", "苏州市工业园区苏州大道东265号"),
    ("长沙湘运物流有限公司", "湘运物流", "长沙市雨花区万家丽中路二段99号"),
    ("合肥科讯信息技术有限公司", "科讯信息", "合肥市蜀山区望江西路800号"),
    ("宁波甬申机械设备有限公司", "甬申机械", "宁波市鄞州区天童南路588号"),
]

EN_FIRST = [
    "Amelia", "Oliver", "Priya", "James", "Sophie", "Daniel", "Hannah", "Tomasz", "Grace",
    "Marcus", "Aisha", "Liam", "Chloe", "Rajesh", "Emily", "Owen", "Fatima", "George",
    "Isla", "Connor", "Megan", "Samuel", "Zara", "Patrick", "Lucy", "Kwame", "Rebecca",
    "Ethan", "Nadia", "Harry", "Eleanor", "Victor", "Joanna", "Callum", "Ruth", "Arjun",
]
EN_LAST = [
    "Whitfield", "Okafor", "Patel", "Hughes", "Kowalski", "Brennan", "Thornton", "Ahmed",
    "Fletcher", "Sinclair", "MacLeod", "Osei", "Barker", "Nakamura", "Doyle", "Pearson",
    "Haworth", "Chaudhry", "Lindqvist", "Morgan", "Ellison", "Gallagher", "Reyes", "Turnbull",
    "Achterberg", "Quinn", "Rowntree", "Mensah", "Price", "Dunmore",
]
ZH_SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾萧田董袁潘蒋蔡余杜叶程魏苏吕丁任沈姚卢")
ZH_GIVEN = [
    "建国", "晓燕", "志强", "丽华", "海涛", "婷", "伟", "敏", "俊杰", "雪梅", "子涵", "浩然",
    "春生", "文静", "国栋", "佳怡", "明轩", "秀英", "立新", "思远", "晨", "卫东", "美玲", "宏伟",
    "一鸣", "欣然", "永刚", "桂芳", "天宇", "雅琴", "振华", "梦瑶", "嘉豪", "淑珍", "鹏", "慧",
]

EN_ABROAD = ["Paris", "Frankfurt", "New York", "Singapore", "Madrid", "Warsaw", "Dublin", "Tokyo"]
ZH_CITIES = ["北京", "上海", "深圳", "广州", "成都", "西安", "南京", "天津", "重庆", "长沙", "青岛", "厦门"]

EN_MONTHS = [
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
]
EN_WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
ZH_WEEKDAYS = ["星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日"]
ZH_DIGITS = "零一二三四五六七八九"


def cn_number(n: int) -> str:
    """1..999 in Chinese numerals as used for article numbers: 十七, 二十一, 一百零五."""
    assert 0 < n < 1000
    hundreds, rest = divmod(n, 100)
    tens, ones = divmod(rest, 10)
    out = ""
    if hundreds:
        out += ZH_DIGITS[hundreds] + "百"
        if rest and tens == 0:
            out += "零"
    if tens:
        out += ("" if tens == 1 and not hundreds else ZH_DIGITS[tens]) + "十"
    if ones:
        out += ZH_DIGITS[ones]
    return out


def en_date(d: datetime.date) -> str:
    return f"{d.day} {EN_MONTHS[d.month - 1]} {d.year}"


def zh_date(d: datetime.date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


def money_en(amount: float) -> str:
    if amount == int(amount):
        return f"£{int(amount):,}"
    return f"£{amount:,.2f}"


def money_zh(amount: float) -> str:
    if amount == int(amount):
        return f"{int(amount)}元"
    return f"{amount:.2f}元"


class World:
    """Random choices with memory: identifiers and people are never reused."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.seed = seed
        self._used: set[str] = set()
        self._scoped: dict[str, set] = {}

    def sub(self, key: str) -> random.Random:
        """A random source fixed by `key`: two editions of one document
        phrase themselves the same way when drawn from the same key."""
        return random.Random(f"{self.seed}:{key}")

    def unique(self, make) -> str:
        for _ in range(1000):
            value = make()
            if value not in self._used:
                self._used.add(value)
                return value
        raise RuntimeError("identifier space exhausted")

    def distinct(self, scope: str, draw):
        """A value of `draw()` that no earlier call in `scope` returned, where
        the draw allows one: documents of one family then differ in every
        figure a question may ask about."""
        used = self._scoped.setdefault(scope, set())
        for _ in range(50):
            value = draw()
            if value not in used:
                break
        used.add(value)
        return value

    def person_en(self) -> str:
        r = self.rng
        return self.unique(lambda: f"{r.choice(EN_FIRST)} {r.choice(EN_LAST)}")

    def person_zh(self) -> str:
        r = self.rng
        return self.unique(lambda: r.choice(ZH_SURNAMES) + r.choice(ZH_GIVEN))

    def date(self, year: int, months: tuple[int, int] = (1, 12), weekday: bool = True) -> datetime.date:
        r = self.rng
        while True:
            d = datetime.date(year, r.randint(*months), r.randint(1, 28))
            if not weekday or d.weekday() < 5:
                return d

    def contract_no(self, prefix: str, year: int) -> str:
        r = self.rng
        return self.unique(lambda: f"{prefix}-{year}-{r.randint(1000, 9899)}")

    def code(self, pattern: str) -> str:
        """`pattern` with each '#' replaced by a digit and each '@' by a capital letter."""
        r = self.rng

        def make() -> str:
            out = []
            for c in pattern:
                if c == "#":
                    out.append(str(r.randint(0, 9)))
                elif c == "@":
                    out.append(r.choice("ABCDEFGHJKLMNPRSTUVWXYZ"))
                else:
                    out.append(c)
            return "".join(out)

        return self.unique(make)

    def phone_ext(self) -> str:
        r = self.rng
        return self.unique(lambda: str(r.randint(2000, 7999)))

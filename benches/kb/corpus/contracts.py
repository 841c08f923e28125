"""Contracts: a handful of templates per language, each signed by one
organisation with two or three counterparties, so that every contract has a
sibling that reads the same apart from its numbers and names."""

from __future__ import annotations

import datetime
import random
from dataclasses import dataclass

from .doc import Articles, Doc
from .world import (
    EN_ORGS, EN_SUPPLIERS, ZH_CITIES, ZH_ORGS, ZH_SUPPLIERS, World, en_date, money_en, money_zh, zh_date,
)


@dataclass
class Party:
    name: str
    short: str
    address: str


@dataclass
class Terms:
    """What every contract states, drawn afresh for each one."""

    number: str
    signed: datetime.date
    start: datetime.date
    months: int
    pay_days: int
    notice_days: int
    conf_years: int
    cap_pct: int
    signatory: str
    their_signatory: str


def _terms(w: World, prefix: str, lang: str, family: str) -> Terms:
    r = w.rng

    def differ(key: str, choices: list[int]) -> int:
        return w.distinct(f"{family}:{key}", lambda: r.choice(choices))

    year = r.choice([2023, 2024])
    signed = w.date(year)
    later = signed + datetime.timedelta(days=r.choice([14, 21, 30, 45]))
    start = (later.replace(day=1) + datetime.timedelta(days=32)).replace(day=1)  # the first of a later month
    person = w.person_zh if lang == "zh" else w.person_en
    return Terms(
        number=w.contract_no(prefix, year),
        signed=signed,
        start=start,
        months=r.choice([12, 24, 36]),
        pay_days=differ("pay_days", [15, 30, 45, 60]),
        notice_days=differ("notice_days", [30, 60, 90]),
        conf_years=differ("conf_years", [2, 3, 5]),
        cap_pct=differ("cap_pct", [100, 120, 150, 200]),
        signatory=person(),
        their_signatory=person(),
    )


EN_EQUIPMENT = {
    "Northern Lift": ("Pallet stacker", "Battery charger"),
    "Copperfield": ("CNC lathe", "Tooling kit"),
    "Cobalt": ("Sit-stand desk", "Monitor arm"),
}
ZH_EQUIPMENT = {
    "恒通电梯": ("载货电梯", "电梯控制柜"),
    "甬申机械": ("数控加工中心", "配套刀库"),
    "锦程家具": ("升降办公桌", "人体工学椅"),
}


# --- English -----------------------------------------------------------------

def _en_contract(w: World, org, party: Party, family: str, title: str, scope) -> Doc:
    r = w.rng
    t = _terms(w, "CTR", "en", family)
    d = Doc("en", "contract", family, f"{title} between {org.name} and {party.name}", r.choice(["md", "md", "txt", "html"]))
    d.p(f"Contract number: {t.number}")
    d.p(f"This agreement is made on {en_date(t.signed)} between {org.name}, whose registered office is in {org.city} (the Customer), and {party.name} of {party.address} (the Supplier).")
    d.h("1. Services")
    scope(d, r, t, party)
    d.h("2. Term")
    term = d.p(f"This agreement starts on {en_date(t.start)} and continues for {t.months} months.",
               "It then renews automatically for further periods of twelve months unless it is ended under clause 7.")
    d.ask(f"When does contract {t.number} start and how long does it run?", f"{en_date(t.start)}, {t.months} months", term, "identifier")
    d.h("3. Payment")
    pay = d.p(f"The Customer shall pay each undisputed invoice within {t.pay_days} days of receipt.",
              "Invoices must quote the contract number and the Customer's purchase order number.")
    d.p(r.choice([
        "Late payments carry interest at four per cent a year above the Bank of England base rate.",
        "Interest on late payment is charged under the Late Payment of Commercial Debts (Interest) Act 1998.",
    ]))
    d.ask(f"How long does {org.short} have to settle {party.short}'s bills under their {title.lower()}?", f"{t.pay_days} days", pay, "paraphrase")
    d.h("4. Confidentiality and data")
    conf = d.p(f"Each party shall keep the other's confidential information secret during this agreement and for {t.conf_years} years after it ends.",
               "Where the Supplier processes personal data for the Customer, it does so only on the Customer's written instructions and under the data processing schedule.")
    d.ask(f"For how many years after contract {t.number} ends must confidential information stay secret?", f"{t.conf_years} years", conf, "identifier")
    d.h("5. Liability")
    cap = d.p(f"Each party's total liability in any contract year is limited to {t.cap_pct} per cent of the charges paid or payable in that year.",
              "Nothing in this agreement limits liability for death or personal injury caused by negligence, or for fraud.")
    d.ask(f"What is the ceiling on what {party.short} would have to pay out if things go wrong under its {title.lower()} with {org.short}?",
          f"{t.cap_pct}% of the year's charges", cap, "paraphrase")
    d.h("6. Insurance")
    d.p(r.choice([
        "The Supplier shall hold public liability insurance of at least five million pounds and employer's liability insurance as required by law.",
        "The Supplier shall maintain public liability cover of not less than ten million pounds for each claim and provide certificates on request.",
    ]))
    d.h("7. Termination")
    notice = d.p(f"Either party may end this agreement without giving a reason by giving at least {t.notice_days} days' written notice.",
                 "Either party may end it at once if the other commits a material breach that is not put right within thirty days of being told about it.")
    d.ask(f"What notice period applies to terminating contract {t.number} without cause?", f"{t.notice_days} days", notice, "identifier")
    d.ask(f"If {org.short} wants to get out of the deal with {party.short}, how much warning must it give?", f"{t.notice_days} days' written notice", notice, "paraphrase")
    d.h("8. Law")
    d.p("This agreement is governed by the law of England and Wales, and the courts of England and Wales have exclusive jurisdiction.")
    d.h("Signatures")
    sig = f"Signed for the Customer by {t.signatory} and for the Supplier by {t.their_signatory}, both on {en_date(t.signed)}."
    d.p(sig)
    d.ask(f"Who signed contract {t.number} on behalf of the supplier?", t.their_signatory, sig, "identifier")
    return d


def _cleaning_en(d: Doc, r: random.Random, t: Terms, party: Party) -> None:
    staff, fee = r.randint(3, 12), r.randrange(4200, 18001, 150)
    hours = r.choice(["6 am and 8 am", "6 pm and 9 pm", "7 pm and 10 pm"])
    d.p("The Supplier shall clean the Customer's offices, washrooms, kitchens and meeting rooms to the standard in Schedule 1.")
    crew = d.p(f"The Supplier shall provide a team of {staff} cleaners on site each weekday, working between {hours}, supervised by a named site manager.")
    charge = d.p(f"The monthly charge for the services is {money_en(fee)} excluding VAT, invoiced monthly in arrears.")
    d.items(["Daily: empty bins, clean desks and kitchens, restock washrooms.",
             "Weekly: vacuum all carpets and clean internal glass.",
             "Quarterly: deep-clean carpets and wash external windows up to the second floor."])
    d.ask(f"How many cleaners does {party.short} send to the site every weekday?", f"{staff}", crew, "paraphrase")
    d.ask(f"What is the monthly charge in contract {t.number}?", f"{money_en(fee)} excluding VAT", charge, "identifier")


def _it_en(d: Doc, r: random.Random, t: Terms, party: Party) -> None:
    p1, avail, fee = r.choice([1, 2, 4]), r.choice(["99.5", "99.8", "99.9", "99.95"]), r.randrange(18000, 96001, 500)
    d.p("The Supplier shall provide second- and third-line support for the Customer's servers, network equipment and business applications listed in Schedule 2, including monitoring, patching and backup checks.")
    sla = d.p(f"Priority 1 incidents, meaning a complete loss of a critical service, shall be responded to within {p1} {'hour' if p1 == 1 else 'hours'}, at any time of day.",
              f"The Supplier commits to monthly availability of {avail} per cent for the services in Schedule 2.")
    fees = d.p(f"The annual charge is {money_en(fee)} excluding VAT, invoiced quarterly in advance.")
    d.ask(f"If our servers go down completely, how fast does {party.short} have to react?", f"within {p1} hours", sla, "paraphrase")
    d.ask(f"What uptime does {party.short} promise each month in its support agreement?", f"{avail}%", sla, "paraphrase")
    d.ask(f"What is the annual charge under contract {t.number}?", money_en(fee), fees, "identifier")


def _equipment_en(w: World, prefix: str):
    def scope(d: Doc, r: random.Random, t: Terms, party: Party) -> None:
        weeks, warranty = r.choice([4, 6, 8, 10, 12]), r.choice([12, 24, 36])
        main, extra = EN_EQUIPMENT[party.short]
        items = [
            [main, w.code(f"{prefix}-##0"), str(r.randint(2, 8)), money_en(r.randrange(4000, 9001, 50))],
            [extra, w.code(f"{prefix}-C#"), str(r.randint(2, 8)), money_en(r.randrange(300, 901, 10))],
            ["Operator training (per day)", "TRN-01", str(r.randint(1, 4)), money_en(r.randrange(600, 1201, 50))],
        ]
        d.p("The Supplier shall supply, deliver and install the equipment listed below at the Customer's site and train the Customer's operators to use it safely.")
        table = d.table(["Item", "Model", "Quantity", "Unit price excluding VAT"], items)
        deliver = d.p(f"Delivery and installation shall be completed within {weeks} weeks of the purchase order.",
                      f"All equipment carries a warranty of {warranty} months from installation, covering parts and labour.")
        model = items[0][1]
        d.ask(f"How many units of model {model} are ordered, and at what unit price?", f"{items[0][2]} at {items[0][3]}", d.row(table, main), "identifier")
        d.ask(f"How long is the equipment from {party.short} guaranteed for after it is put in?", f"{warranty} months", deliver, "paraphrase")
    return scope


def _lease_en(d: Doc, r: random.Random, t: Terms, party: Party) -> None:
    area, rent, deposit, free = r.randrange(180, 1201, 20), r.randrange(2500, 14001, 250), r.choice([3, 6]), r.choice([0, 1, 2, 3])
    floor = r.choice(["ground floor", "first floor", "second floor", "third floor"])
    d.p(f"The Supplier, as landlord, lets to the Customer the {floor} of {party.address.split(',')[0]}, with a net internal area of {area} square metres, for use as offices.")
    rent_p = d.p(f"The rent is {money_en(rent)} a month, payable monthly in advance on the first day of each month.",
                 f"The Customer shall pay a deposit equal to {deposit} months' rent before the term starts.",
                 f"The first {free} months of the term are rent-free." if free else "There is no rent-free period.")
    d.p("Service charges for the common parts, building insurance and business rates are payable in addition to the rent.")
    d.ask(f"How big a deposit does {t.number} require?", f"{deposit} months' rent", rent_p, "identifier")
    d.ask(f"How much goes to {party.short} every month for the office space we take from them?", money_en(rent), rent_p, "paraphrase")


def _freight_en(d: Doc, r: random.Random, t: Terms, party: Party) -> None:
    rate, hours, claim = r.randrange(38, 96, 1), r.choice([24, 48, 72]), r.choice([3, 5, 7, 14])
    lanes = r.sample(["Leeds", "Bristol", "Southampton", "Felixstowe", "Glasgow", "Birmingham", "Manchester"], 3)
    d.p(f"The Supplier shall collect palletised goods from the Customer's warehouse and deliver them to the Customer's customers on the routes {lanes[0]} to {lanes[1]} and {lanes[0]} to {lanes[2]}.")
    price = d.p(f"The rate is {money_en(rate)} per standard pallet, including fuel surcharge, with deliveries completed within {hours} hours of collection.")
    claims = d.p(f"Loss of or damage to goods must be notified to the Supplier in writing within {claim} days of delivery, or the claim is barred.")
    d.ask(f"What does {party.short} charge per pallet under contract {t.number}?", money_en(rate), price, "identifier")
    d.ask(f"If goods arrive broken, by when must we complain to {party.short}?", f"within {claim} days of delivery", claims, "paraphrase")


# --- 中文 ----------------------------------------------------------------------

def _zh_contract(w: World, org, party: Party, family: str, title: str, scope) -> Doc:
    r = w.rng
    t = _terms(w, "HT", "zh", family)
    d = Doc("zh", "contract", family, f"{title}（{party.short}）", r.choice(["md", "md", "txt", "html"]))
    a = Articles(d)
    penalty = r.choice([3, 5])
    d.p(f"合同编号：{t.number}")
    d.p(f"甲方：{org.name}　　乙方：{party.name}（住所：{party.address}）")
    d.p("甲乙双方根据《中华人民共和国民法典》及有关法律法规，本着平等自愿、诚实信用的原则，经协商一致，订立本合同，以资共同遵守。")
    scope(d, a, r, t, party)
    end = t.start + datetime.timedelta(days=t.months * 30.44 - 1)
    _, term = a.art(f"本合同期限自{zh_date(t.start)}起至{zh_date(end)}止，共{t.months}个月。期满前一个月双方可协商续签。")
    _, pay = a.art(f"甲方在收到乙方开具的合法有效发票后{t.pay_days}日内，以银行转账方式支付相应款项。")
    d.ask(f"合同{t.number}的期限是从什么时候开始的？", f"{zh_date(t.start)}起，共{t.months}个月", term, "identifier")
    d.ask(f"{org.short}收到{party.short}的发票以后，要在几天里把钱付掉？", f"{t.pay_days}日内", pay, "paraphrase")
    a.art(r.choice([
        "乙方应当遵守甲方的安全、保密和现场管理制度，服从甲方的合理安排。",
        "乙方派驻人员应当持证上岗，遵守甲方的各项规章制度，因乙方人员原因造成的损失由乙方承担。",
    ]))
    _, conf = a.art(f"乙方对履行本合同过程中知悉的甲方商业秘密负有保密义务，保密期限为本合同终止后{t.conf_years}年。")
    d.ask(f"{t.number}号合同结束后，乙方还要保密几年？", f"{t.conf_years}年", conf, "identifier")
    _, late = a.art(f"甲方逾期付款的，每逾期一日按应付未付金额的万分之{penalty}向乙方支付违约金；乙方违约造成甲方损失的，赔偿总额以合同总额的{t.cap_pct}%为限。")
    d.ask(f"要是{party.short}把事情搞砸了，最多赔{org.short}多少？", f"合同总额的{t.cap_pct}%", late, "paraphrase")
    _, notice = a.art(f"任何一方提前解除本合同的，应当提前{t.notice_days}日书面通知对方，并结清已发生的费用。")
    d.ask(f"合同编号{t.number}，提前解约需要提前多少天通知？", f"{t.notice_days}日", notice, "identifier")
    d.ask(f"{org.short}和{party.short}的这份合同，如果不想继续合作了，要提前多久跟对方打招呼？", f"提前{t.notice_days}日书面通知", notice, "paraphrase")
    city = r.choice(ZH_CITIES)
    a.art(r.choice([
        f"因本合同引起的争议，双方应协商解决；协商不成的，提交{city}仲裁委员会仲裁。",
        "因本合同引起的争议，双方应协商解决；协商不成的，任何一方均可向甲方所在地人民法院提起诉讼。",
    ]))
    a.art("本合同一式四份，甲乙双方各执两份，自双方签字盖章之日起生效。")
    sig = d.p(f"甲方代表：{t.signatory}　　乙方代表：{t.their_signatory}　　签订日期：{zh_date(t.signed)}")
    d.ask(f"合同{t.number}的乙方代表是谁？", t.their_signatory, sig, "identifier")
    return d


def _property_zh(d: Doc, a: Articles, r: random.Random, t: Terms, party: Party) -> None:
    area, staff, fee = r.randrange(3000, 20001, 500), r.randint(4, 15), r.randrange(30000, 120001, 1000)
    a.art(f"乙方为甲方办公楼提供保洁、绿化养护和秩序维护服务，服务面积约{area}平方米。")
    _, crew = a.art(f"乙方应派驻保洁人员不少于{staff}名，每日7:00至18:00在岗，节假日安排值班人员。")
    _, fee_p = a.art(f"本合同物业服务费为每月{money_zh(fee)}（含税），按月结算。")
    d.ask(f"{party.short}每天至少要派几个保洁员过来？", f"不少于{staff}名", crew, "paraphrase")
    d.ask(f"合同{t.number}每月的物业服务费是多少？", money_zh(fee), fee_p, "identifier")


def _it_zh(d: Doc, a: Articles, r: random.Random, t: Terms, party: Party) -> None:
    onsite, avail, fee = r.choice([2, 4, 8]), r.choice(["99.5", "99.9", "99.95"]), r.randrange(150000, 600001, 10000)
    a.art("乙方负责甲方机房服务器、网络设备及业务系统的日常巡检、故障处理、补丁更新和数据备份检查，服务范围详见附件一。")
    _, sla = a.art(f"发生一级故障时，乙方应在30分钟内远程响应，{onsite}小时内派工程师到场；系统月度可用率不低于{avail}%。")
    _, fee_p = a.art(f"本合同年度运维服务费为{money_zh(fee)}（含税），分四个季度支付。")
    d.ask(f"要是机房系统整个瘫了，{party.short}的工程师最晚多久得赶到现场？", f"{onsite}小时内", sla, "paraphrase")
    d.ask(f"合同{t.number}约定的年度运维服务费是多少？", money_zh(fee), fee_p, "identifier")


def _equipment_zh(w: World, prefix: str):
    def scope(d: Doc, a: Articles, r: random.Random, t: Terms, party: Party) -> None:
        days, warranty = r.choice([30, 45, 60, 90]), r.choice([12, 18, 24, 36])
        main, extra = ZH_EQUIPMENT[party.short]
        rows = [
            [main, w.code(f"{prefix}-###"), str(r.randint(1, 6)), money_zh(r.randrange(28000, 900001, 1000))],
            [extra, w.code(f"{prefix}-T##"), str(r.randint(1, 6)), money_zh(r.randrange(2000, 90001, 500))],
            ["安装调试及培训", "—", "1", money_zh(r.randrange(10000, 50001, 1000))],
        ]
        a.art("乙方向甲方供应下列设备，并负责运输、安装、调试及操作培训：")
        table = d.table(["设备名称", "型号", "数量（台/套）", "单价（含税）"], rows)
        _, deliver = a.art(f"乙方应在合同生效后{days}日内完成交货，设备质保期为验收合格之日起{warranty}个月。")
        d.ask(f"型号{rows[0][1]}的设备买了几台，单价多少？", f"{rows[0][2]}台，{rows[0][3]}", d.row(table, main), "identifier")
        d.ask(f"从{party.short}买的设备，验收以后保修多长时间？", f"{warranty}个月", deliver, "paraphrase")
    return scope


def _lease_zh(d: Doc, a: Articles, r: random.Random, t: Terms, party: Party) -> None:
    area, rent, deposit, free = r.randrange(800, 6001, 100), r.randrange(20000, 150001, 1000), r.choice([2, 3]), r.choice([1, 2, 3])
    a.art(f"乙方将其位于{party.address}的房屋出租给甲方使用，建筑面积{area}平方米，用途为办公及仓储。")
    _, rent_p = a.art(f"月租金为{money_zh(rent)}（含税），每三个月支付一次；甲方应在签约时支付相当于{deposit}个月租金的押金。乙方给予甲方{free}个月免租装修期。")
    d.ask(f"合同{t.number}的押金是几个月租金？", f"{deposit}个月", rent_p, "identifier")
    d.ask(f"租{party.short}的房子，一个月房租多少，有没有装修期不收钱？", f"{money_zh(rent)}，免租{free}个月", rent_p, "paraphrase")


def _freight_zh(d: Doc, a: Articles, r: random.Random, t: Terms, party: Party) -> None:
    rate, hours, claim = r.randrange(800, 3001, 50), r.choice([24, 36, 48, 72]), r.choice([3, 5, 7])
    lanes = r.sample(["武汉", "上海", "成都", "广州", "郑州", "西安", "长沙"], 3)
    a.art(f"乙方承运甲方自{lanes[0]}发往{lanes[1]}、{lanes[2]}的成品货物，负责提货、运输和送货上门。")
    _, price = a.art(f"整车运价为每车次{money_zh(rate)}（含税、含燃油附加费），运输时效为提货后{hours}小时内送达。")
    _, claims = a.art(f"货物发生丢失或者损坏的，甲方应在收货后{claim}日内书面提出索赔，逾期视为货物完好。")
    d.ask(f"合同{t.number}的整车运价是多少？", money_zh(rate), price, "identifier")
    d.ask(f"{party.short}运来的货要是坏了，最晚几天之内得找他们赔？", f"收货后{claim}日内", claims, "paraphrase")


def build(w: World) -> list[Doc]:
    docs = []
    en = {s[1]: Party(*s) for s in EN_SUPPLIERS}
    zh = {s[1]: Party(*s) for s in ZH_SUPPLIERS}
    en_templates = [
        ("Cleaning Services Agreement", _cleaning_en, ["Spotless", "Clearwater", "Oakridge"]),
        ("IT Support and Maintenance Agreement", _it_en, ["Bluefin", "Meridian", "Lattice"]),
        ("Equipment Supply Agreement", _equipment_en(w, "LX"), ["Northern Lift", "Copperfield", "Cobalt"]),
        ("Office Lease", _lease_en, ["Thamesbank", "Albion Estates"]),
        ("Freight Services Agreement", _freight_en, ["Pennine Freight", "Redwing", "Summit Fleet"]),
    ]
    zh_templates = [
        ("物业服务合同", _property_zh, ["洁诚物业", "博安安防"]),
        ("信息系统运维服务合同", _it_zh, ["云启网络", "新锐软件", "科讯信息"]),
        ("设备采购合同", _equipment_zh(w, "VMC"), ["恒通电梯", "甬申机械", "锦程家具"]),
        ("房屋租赁合同", _lease_zh, ["金鸡湖置业", "海港仓储"]),
        ("货物运输合同", _freight_zh, ["顺达货运", "湘运物流"]),
    ]
    for i, (title, scope, parties) in enumerate(en_templates):
        org = EN_ORGS[i % len(EN_ORGS)]
        for short in parties:
            docs.append(_en_contract(w, org, en[short], f"en-contract-{title}", title, scope))
    for i, (title, scope, parties) in enumerate(zh_templates):
        org = ZH_ORGS[i % len(ZH_ORGS)]
        for short in parties:
            docs.append(_zh_contract(w, org, zh[short], f"zh-contract-{title}", title, scope))
    return docs

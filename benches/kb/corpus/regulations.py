"""Regulations with numbered articles (Article 12, 第十七条), one of each kind
for three organisations. Optional articles shift the numbering, so the same
rule sits under different article numbers at different organisations."""

from __future__ import annotations

import datetime
import random
from dataclasses import dataclass, field
from typing import Callable

from .doc import Articles, Doc
from .world import EN_ORGS, ZH_ORGS, World, en_date, zh_date


@dataclass
class Art:
    """One article: `text` is formatted with the drawn values; `asks` are
    (kind, question, answer) templates, where the question may use {label}
    (the article's number) and {reg} (the organisation and regulation)."""

    text: str
    optional: bool = False
    asks: list[tuple[str, str, str]] = field(default_factory=list)


@dataclass
class Regulation:
    title: str
    values: dict[str, Callable[[random.Random], object]]
    body: list  # chapter titles (str) and articles (Art)


def _pick(*choices):
    return lambda r: r.choice(list(choices))


EN_REGULATIONS = [
    Regulation("Procurement Regulations", {
        "one": _pick("5,000", "10,000", "15,000"), "three": _pick("50,000", "75,000", "100,000"),
        "advert": _pick(14, 21, 28, 30), "price": _pick(30, 40, 50, 60), "cfo": _pick("250,000", "500,000", "1,000,000"),
        "pay": _pick(30, 45, 60), "audit": _pick(3, 6, 12),
    }, [
        "Chapter 1. General provisions",
        Art("These regulations govern how {org} buys goods, works and services, so that every purchase is lawful, fair and good value."),
        Art("They apply to all purchases paid for by the company, whatever the source of funds, except property leases, which are approved by the board."),
        Art("In these regulations, estimated value means the total expected cost over the whole life of the contract, excluding VAT."),
        Art("Where a framework agreement already covers the requirement, it must be used unless the Head of Procurement agrees otherwise.", optional=True),
        Art("No purchase may be split into smaller orders to avoid a threshold in these regulations."),
        "Chapter 2. Thresholds and competition",
        Art("Purchases with an estimated value of up to £{one} may be made after obtaining one written quotation.",
            asks=[("identifier", "Under {label} of {reg}, how many quotations are needed for a small purchase?", "one written quotation, up to £{one}")]),
        Art("Purchases with an estimated value above £{one} and up to £{three} require at least three written quotations.",
            asks=[("paraphrase", "How many competing offers must be collected before buying something worth £{one_plus} under {reg}?", "at least three written quotations"),
                  ("identifier", "Which article of {reg} sets the rule for three quotations?", "{label}")]),
        Art("Purchases with an estimated value above £{three} require a formal tender, advertised for at least {advert} days.",
            asks=[("paraphrase", "For a big-ticket contract under {reg}, how long does the call for bids have to stay open?", "at least {advert} days")]),
        Art("Quotations and tenders are evaluated against criteria published in advance, in which price carries at least {price} per cent of the weighting.",
            asks=[("numeric", "What minimum weight does price carry in tender evaluation under {reg}?", "{price}%")]),
        Art("Where only one supplier can meet the requirement, a single-source justification must be approved by the Head of Procurement before the order is placed."),
        Art("Tender documents are issued to all bidders at the same time, and clarification questions and their answers are shared with every bidder.", optional=True),
        "Chapter 3. Approval, contracts and payment",
        Art("Contracts with a total value above £{cfo} must be approved by the Chief Financial Officer before signature.",
            asks=[("identifier", "According to {label} of {reg}, above what value does a contract need the Chief Financial Officer's approval?", "£{cfo}")]),
        Art("All contracts must be signed by an authorised signatory listed in the scheme of delegation."),
        Art("Purchase orders must be raised before goods or services are received; invoices without a matching order are returned to the supplier."),
        Art("Suppliers are paid within {pay} days of receiving a valid invoice.",
            asks=[("paraphrase", "How quickly does {org_short} promise to settle a vendor's bill under {reg}?", "within {pay} days")]),
        Art("Contract managers review the performance of every supplier with an annual spend above £{three} at least once a year.", optional=True),
        "Chapter 4. Conduct",
        Art("Anyone involved in a purchase must declare any personal interest in a bidding supplier and take no further part in the decision."),
        Art("Gifts and hospitality offered by bidders while a tender is open must be refused."),
        Art("Breaches of these regulations are reported to the Audit Committee, which receives a summary every {audit} months.",
            asks=[("paraphrase", "How often does the Audit Committee hear about rule-breaking in purchasing under {reg}?", "every {audit} months")]),
        "Chapter 5. Final provisions",
        Art("The Head of Procurement interprets these regulations and may issue guidance on their application."),
        Art("These regulations take effect on {start}."),
    ]),
    Regulation("Vehicle Use Regulations", {
        "licence": _pick(1, 2, 3), "book": _pick(2, 4, 24, 48), "site": _pick(5, 10, 15), "fuel": _pick(3, 5, 7),
        "excess": _pick(100, 250, 500), "service": _pick("10,000", "12,000", "15,000"),
    }, [
        "Part 1. Scope",
        Art("These regulations apply to the pool cars and vans owned or leased by {org}, and to any employee who drives them."),
        Art("Company cars allocated to individuals are covered by the company car scheme, except where these regulations say otherwise."),
        "Part 2. Drivers",
        Art("Only employees who have held a full driving licence for at least {licence} years may drive a pool vehicle.",
            asks=[("paraphrase", "How long must I have had my licence before I can take one of {org_short}'s pool cars, under {reg}?", "{licence} years")]),
        Art("Licences are checked with the DVLA when driving is first authorised and every twelve months afterwards."),
        Art("Drivers must tell the fleet manager at once of any penalty points, disqualification or medical condition that affects their driving."),
        Art("Drivers under the age of twenty-five may drive vans only after completing the company's practical assessment.", optional=True),
        "Part 3. Booking and use",
        Art("Pool vehicles are booked in the fleet system no later than {book} hours before use.",
            asks=[("identifier", "Under {label} of {reg}, how far ahead must a pool vehicle be booked?", "{book} hours")]),
        Art("Drivers carry out the walk-round check on the vehicle card before every journey and report defects before driving."),
        Art("The speed limit on company premises is {site} mph for all vehicles.",
            asks=[("paraphrase", "How fast may I drive around the {org_short} site?", "{site} mph"),
                  ("identifier", "Which article of {reg} sets the on-site speed limit?", "{label}")]),
        Art("Mobile phones must not be used while driving, including hands-free calls, except to call the emergency services."),
        Art("Private use of pool vehicles is not permitted, and passengers may be carried only on company business."),
        Art("Vehicles are serviced every {service} miles or every twelve months, whichever comes first.",
            asks=[("numeric", "At what mileage interval are pool vehicles serviced under {reg}?", "every {service} miles")]),
        "Part 4. Fuel, damage and fines",
        Art("Fuel is bought with the vehicle's fuel card only, and receipts are uploaded to the fleet system within {fuel} days.",
            asks=[("paraphrase", "After filling up a {org_short} van, how long do I have to hand in the till slip?", "{fuel} days")]),
        Art("Drivers pay the first £{excess} of the cost of any damage caused by their own negligence.",
            asks=[("paraphrase", "If I scrape a pool car through my own carelessness, how much of the repair bill do I pay, under {reg}?", "the first £{excess}")]),
        Art("Parking and speeding fines are the driver's own responsibility and are deducted from salary if not paid."),
        Art("Vehicles are returned clean, with at least a quarter of a tank of fuel, to the bay they were collected from.", optional=True),
        Art("These regulations take effect on {start}."),
    ]),
    Regulation("Gifts and Hospitality Regulations", {
        "gift": _pick(25, 50, 75, 100), "hosp": _pick(50, 75, 100, 150), "register": _pick(5, 10, 14), "quarterly": _pick("quarter", "half year"),
    }, [
        "Section A. Principles",
        Art("Employees of {org} must not accept any gift or hospitality that could influence, or appear to influence, a business decision."),
        Art("Cash and cash equivalents, including vouchers, gift cards and cryptocurrency, must never be accepted, whatever their value."),
        Art("Gifts and hospitality must never be offered to public officials without the prior written approval of the Legal department."),
        "Section B. Limits",
        Art("Employees may accept gifts worth up to £{gift} in total from any one source in a calendar year.",
            asks=[("paraphrase", "What is the most a supplier's presents to me can be worth in a year under {reg}?", "£{gift}"),
                  ("identifier", "Which article of {reg} sets the annual limit on gifts?", "{label}")]),
        Art("Hospitality worth more than £{hosp} per person must be approved in advance by a director.",
            asks=[("paraphrase", "A vendor has invited me to a dinner at {org_short}: above what cost per head do I need a director's OK?", "£{hosp} per person")]),
        Art("Travel and accommodation paid for by a supplier may not be accepted, even when the event itself is legitimate.", optional=True),
        Art("Gifts offered by suppliers taking part in an open tender must be refused."),
        "Section C. Register",
        Art("Every gift or invitation worth more than £25, whether accepted or refused, is entered in the gifts register within {register} days.",
            asks=[("identifier", "Under {label} of {reg}, within how many days must a gift be entered in the register?", "{register} days")]),
        Art("The Compliance Officer reviews the register every {quarterly} and reports unusual patterns to the Audit Committee."),
        Art("Gifts that cannot be returned without offence are handed to the Compliance Officer and donated to charity.", optional=True),
        "Section D. Breaches",
        Art("Breaches of these regulations may lead to disciplinary action up to and including dismissal."),
        Art("These regulations take effect on {start}."),
    ]),
]

ZH_REGULATIONS = [
    Regulation("采购管理规定", {
        "direct": _pick(1, 2, 5), "inquiry": _pick(20, 30, 50), "notice": _pick(5, 10, 20), "panel": _pick(5, 7),
        "gm": _pick(100, 200, 300), "pay": _pick(30, 45, 60),
    }, [
        "总则",
        Art("为规范{org}的采购行为，降低采购成本，防范采购风险，制定本规定。"),
        Art("本规定适用于公司使用自有资金进行的货物、工程和服务采购。"),
        Art("采购工作遵循公开透明、公平竞争、诚实信用和物有所值的原则。"),
        Art("采购部是公司采购工作的归口管理部门，负责供应商管理、采购组织和合同执行监督。", optional=True),
        "采购方式",
        Art("单项采购金额在{direct}万元以下的，可以直接采购，但应取得一家以上书面报价。",
            asks=[("identifier", "{reg}{label}对小额采购有什么要求？", "{direct}万元以下可直接采购，取得一家以上书面报价")]),
        Art("单项采购金额在{direct}万元以上{inquiry}万元以下的，应当采用询价方式，询价对象不少于三家。",
            asks=[("paraphrase", "按{reg}，买十几万的东西要找几家来比价？", "不少于三家"),
                  ("identifier", "{reg}中哪一条规定了询价对象不少于三家？", "{label}")]),
        Art("单项采购金额在{inquiry}万元以上的，应当公开招标，招标公告发布时间不少于{notice}日。",
            asks=[("paraphrase", "按{reg}，大额项目的招标信息至少要挂出来几天？", "不少于{notice}日")]),
        Art("评标委员会由{panel}人以上单数组成，其中技术、经济方面的专家不少于成员总数的三分之二。",
            asks=[("numeric", "按{reg}，评标委员会至少由几人组成？", "{panel}人以上单数")]),
        Art("禁止将应当招标的项目化整为零，或者以其他任何方式规避招标。"),
        Art("因技术原因只能从唯一供应商处采购的，须由使用部门出具书面说明，经分管副总经理批准。", optional=True),
        "合同与付款",
        Art("采购合同金额在{gm}万元以上的，须经总经理审批后方可签订。",
            asks=[("identifier", "根据{reg}{label}，多少金额以上的采购合同要总经理审批？", "{gm}万元以上")]),
        Art("采购合同应当使用公司合同范本，确需修改的，须经法务部审核。"),
        Art("货物或服务经验收合格后，财务部应在收到发票之日起{pay}日内付款。",
            asks=[("paraphrase", "按{reg}，东西验收没问题后多少天内把钱付给对方？", "{pay}日内")]),
        Art("采购部每年对供应商进行一次综合评价，评价结果作为后续采购的重要依据。", optional=True),
        "监督",
        Art("采购人员与供应商存在利害关系的，应当主动回避。"),
        Art("审计部每年对采购活动进行专项审计，发现违规问题的，依照公司有关规定追究责任。"),
        "附则",
        Art("本规定由采购部负责解释。"),
        Art("本规定自{start}起施行。"),
    ]),
    Regulation("公务用车管理规定", {
        "book": _pick(2, 4, 24), "rest": _pick(2, 3, 4), "km": _pick(5000, 7500, 10000), "subsidy": _pick("0.8", "1.0", "1.2"),
        "fine": _pick(200, 500, 1000),
    }, [
        "总则",
        Art("为加强{org}公务用车管理，保障公务出行安全，降低运行成本，制定本规定。"),
        Art("公务用车由行政部统一管理、集中调度，任何部门和个人不得擅自使用。"),
        "用车申请",
        Art("因公用车应提前{book}小时在OA系统提交用车申请，写明用车事由、时间和目的地。",
            asks=[("paraphrase", "按{reg}，要用公司的车得提前多久说？", "提前{book}小时"),
                  ("identifier", "{reg}{label}规定用车申请要提前多少小时提交？", "{book}小时")]),
        Art("临时紧急用车的，可先电话报行政部同意，事后补办手续。"),
        Art("公务用车不得用于接送子女、购物、旅游等私人活动。"),
        "驾驶与保养",
        Art("驾驶员连续驾驶{rest}小时的，应当停车休息不少于二十分钟。",
            asks=[("paraphrase", "按{reg}，司机开多长时间车就得歇一歇？", "连续驾驶{rest}小时")]),
        Art("车辆每行驶{km}公里进行一次保养，保养须在公司定点维修单位进行。",
            asks=[("identifier", "{reg}中哪一条规定了车辆的保养里程？", "{label}")]),
        Art("节假日期间，公务用车除值班车辆外一律封存，停放在指定停车场。", optional=True),
        Art("车辆加油统一使用加油卡，加油票据应在当月内交行政部核对。"),
        "费用与责任",
        Art("员工经批准使用私人车辆办理公务的，按每公里{subsidy}元给予补贴，不再报销燃油费和过路费。",
            asks=[("paraphrase", "按{reg}，开自己的车去办公事，公司按什么标准补钱？", "每公里{subsidy}元")]),
        Art("因驾驶员违章产生的罚款和扣分由驾驶员本人承担；因违章造成车辆损坏的，驾驶员承担不超过{fine}元的维修费用。",
            asks=[("numeric", "按{reg}，驾驶员违章造成车辆损坏最多承担多少维修费？", "不超过{fine}元")]),
        Art("发生交通事故的，驾驶员应立即报警并报告行政部，不得私下处理。"),
        "附则",
        Art("本规定由行政部负责解释。"),
        Art("本规定自{start}起施行。"),
    ]),
    Regulation("廉洁从业若干规定", {
        "hand_in": _pick(3, 5, 7), "relative": _pick(10, 15, 30), "meal": _pick(100, 150, 200), "hotline": _pick("8801", "8802", "8803", "6601"),
    }, [
        "总则",
        Art("为加强{org}廉洁从业建设，规范员工在经营活动中的行为，制定本规定。"),
        Art("本规定适用于公司全体员工，公司董事、监事及高级管理人员应当带头遵守。"),
        "行为规范",
        Art("员工不得收受供应商、客户等业务往来单位赠送的礼品、礼金、购物卡和有价证券。"),
        Art("确实无法拒收的礼品，应在收受后{hand_in}日内上交纪检监察部门登记处理。",
            asks=[("paraphrase", "按{reg}，客户硬塞的礼物推不掉，几天之内要交上去？", "{hand_in}日内"),
                  ("identifier", "{reg}{label}规定无法拒收的礼品要在几日内上交？", "{hand_in}日内")]),
        Art("员工不得接受可能影响公正履职的宴请；因工作需要参加的业务宴请，人均标准不得超过{meal}元。",
            asks=[("paraphrase", "按{reg}，业务单位请吃饭，一个人花费超过多少就不能去了？", "人均{meal}元")]),
        Art("员工的配偶、子女及其他近亲属在公司供应商处任职或者持股的，员工应在知悉之日起{relative}日内书面申报。",
            asks=[("paraphrase", "按{reg}，我老婆在供应商那边上班，要在多少天内跟公司报告？", "{relative}日内")]),
        Art("员工不得利用职务便利为本人或者他人在招标、采购、销售等环节谋取利益。"),
        Art("员工不得在与公司存在业务关系的单位兼职或者领取报酬。", optional=True),
        "监督与举报",
        Art("纪检监察部门受理违反本规定的举报，举报电话为内线{hotline}，举报人信息严格保密。",
            asks=[("identifier", "{reg}中哪一条公布了举报电话？", "{label}，内线{hotline}")]),
        Art("对举报人打击报复的，从重处理。", optional=True),
        "责任追究",
        Art("违反本规定的，视情节轻重给予警告、记过、降职直至解除劳动合同处分；涉嫌犯罪的，移送司法机关处理。"),
        "附则",
        Art("本规定由纪检监察部门负责解释。"),
        Art("本规定自{start}起施行。"),
    ]),
]


def _write(w: World, lang: str, reg: Regulation, org) -> Doc:
    r = w.sub(f"{reg.title}{org.short}")
    zh = lang == "zh"
    family = f"{lang}-regulation-{reg.title}"
    values = {k: w.distinct(f"{family}:{k}", lambda: draw(w.rng)) for k, draw in reg.values.items()}
    day = datetime.date(w.rng.choice([2022, 2023, 2024]), w.rng.randint(1, 12), 1)
    values |= {"org": org.name, "org_short": org.short, "start": zh_date(day) if zh else en_date(day)}
    if "one" in values:
        values["one_plus"] = f"{int(values['one'].replace(',', '')) * 2:,}"
    title = f"{org.name}{reg.title}" if zh else f"{org.name} {reg.title}"
    values["reg"] = f"{org.short}的《{reg.title}》" if zh else f"{org.short}'s {reg.title}"
    d = Doc(lang, "regulation", family, title, r.choice(["md", "txt", "html"]))
    a = Articles(d)
    for part in reg.body:
        if isinstance(part, str):
            a.chapter(part)
            continue
        if part.optional and r.random() < 0.5:
            continue
        label, text = a.art(part.text.format(**values))
        for kind, question, answer in part.asks:
            d.ask(question.format(label=label, **values), answer.format(label=label, **values), text, kind)
    return d


def build(w: World) -> list[Doc]:
    docs = []
    for lang, regs, orgs in (("en", EN_REGULATIONS, EN_ORGS), ("zh", ZH_REGULATIONS, ZH_ORGS)):
        for i, reg in enumerate(regs):
            for org in (orgs[i % 4], orgs[(i + 1) % 4], orgs[(i + 3) % 4]):
                docs.append(_write(w, lang, reg, org))
    return docs

"""Step-by-step procedures, each kind written for every organisation, so
that the same procedure at another organisation is the close distractor."""

from __future__ import annotations

import random

from .doc import Doc
from .world import EN_ORGS, ZH_ORGS, World, money_en, money_zh


def _en_supplier(d: Doc, org, w: World, r: random.Random) -> None:
    form, days, limit = (
        w.code("F-PUR-##"),
        w.distinct(f"{d.family}:days", lambda: r.randint(3, 15)),
        w.distinct(f"{d.family}:limit", lambda: r.randrange(10000, 50001, 2500)),
    )
    d.p(f"This procedure describes how a new supplier is approved and set up in the finance system at {org.name}. No purchase order may be raised to a supplier that has not completed it.")
    d.h("Steps")
    steps = d.items([
        f"The requesting manager completes form {form}, giving the supplier's legal name, company number, VAT number and the expected annual spend.",
        "Procurement checks the supplier against the sanctions lists and obtains a credit report.",
        f"Suppliers with an expected annual spend above {money_en(limit)} must also provide their latest accounts, insurance certificates and a completed modern slavery questionnaire.",
        "Finance verifies the bank details by telephoning the supplier on a number taken from an independent source, never from the request itself.",
        f"Procurement approves or rejects the request within {days} working days of receiving a complete form.",
        "Once approved, the supplier is created in the finance system and the requester is told the supplier number.",
    ], ordered=True)
    d.h("Records")
    d.p(f"Completed forms and due-diligence evidence are kept by Procurement for the life of the supplier relationship and six years after it ends.")
    d.ask(f"Which form starts the process of adding a new supplier at {org.short}?", form, steps[0], "identifier")
    d.ask(f"What is form {form} used for?", "requesting approval of a new supplier", steps[0], "identifier")
    d.ask(f"How long does it take {org.short}'s buyers to say yes or no to a new vendor?", f"{days} working days", steps[4], "paraphrase")
    d.ask(f"Above what yearly spend does {org.short} ask a new vendor for its accounts and insurance papers?", money_en(limit), steps[2], "paraphrase")
    d.ask(f"How does {org.short} make sure a new supplier's bank account is genuine?", "phone the supplier on an independently sourced number", steps[3], "paraphrase")


def _en_laptop(d: Doc, org, w: World, r: random.Random) -> None:
    days, loan, cost = (
        w.distinct(f"{d.family}:days", lambda: r.randint(2, 10)),
        w.distinct(f"{d.family}:loan", lambda: r.randint(4, 25)),
        w.distinct(f"{d.family}:cost", lambda: r.randrange(800, 2001, 50)),
    )
    d.p(f"Use this procedure to request a laptop, phone or other end-user device from IT Services at {org.name}, for a new starter or to replace a broken device.")
    d.h("Steps")
    steps = d.items([
        "Raise a request in the IT service portal under Hardware, choosing the standard device for the role.",
        f"Your line manager approves the request; devices costing more than {money_en(cost)} also need the approval of the head of department.",
        f"IT Services prepares the standard build and delivers the device within {days} working days of approval.",
        "The user signs for the device on collection and is shown how to enrol it for multi-factor authentication.",
        f"If a device fails, a loan device is available from a pool of {loan} kept at the service desk in {org.city}.",
    ], ordered=True)
    d.p("Old devices must be returned to IT Services, who wipe them and arrange secure recycling. Do not sell or give away company equipment.")
    d.ask(f"Once a new laptop has been approved at {org.short}, how soon should it arrive?", f"within {days} working days", steps[2], "paraphrase")
    d.ask(f"Above what price does a device request at {org.short} need the head of department to sign off?", money_en(cost), steps[1], "numeric")
    d.ask(f"How many spare laptops does {org.short}'s service desk keep for people whose machine broke?", str(loan), steps[4], "paraphrase")


def _en_accident(d: Doc, org, w: World, r: random.Random) -> None:
    hours, form, days = (
        w.distinct(f"{d.family}:hours", lambda: r.choice([2, 4, 8, 12, 24, 48])),
        w.code("HS-##"),
        w.distinct(f"{d.family}:days", lambda: r.randint(5, 14)),
    )
    d.p(f"This procedure sets out what to do when someone is injured at work, or when a dangerous occurrence or near miss happens on {org.name} premises.")
    d.h("Immediately")
    d.items(["Make the area safe and call a first aider; in an emergency call 999.",
             "Do not move an injured person unless they are in danger.",
             "Preserve the scene, including any equipment involved, until a supervisor arrives."])
    d.h("Reporting")
    report = d.p(f"The supervisor records the accident on form {form} within {hours} hours and sends it to the Health and Safety team.",
                 "Injuries that keep a person off normal duties for more than seven days are reported to the Health and Safety Executive under RIDDOR by the Health and Safety team.")
    investigate = d.p(f"An investigation is completed within {days} days, identifying root causes and actions; serious incidents are investigated by the Health and Safety Manager.")
    d.ask(f"How long does a supervisor at {org.short} have to write up an injury at work?", f"{hours} hours", report, "paraphrase")
    d.ask(f"What is form {form} for at {org.short}?", "recording an accident at work", report, "identifier")
    d.ask(f"Within how many days must an accident investigation be completed at {org.short}?", f"{days} days", investigate, "numeric")


def _zh_seal(d: Doc, org, w: World, r: random.Random) -> None:
    form, days, limit = (
        w.code("XZ-F-0##"),
        w.distinct(f"{d.family}:days", lambda: r.choice([1, 2, 3])),
        w.distinct(f"{d.family}:limit", lambda: r.choice([30000, 50000, 80000, 100000, 200000, 300000, 500000])),
    )
    d.p(f"为规范{org.name}印章使用管理，防范用印风险，制定本流程。本流程适用于公章、合同专用章、财务专用章和法定代表人名章的使用。")
    d.h("一、办理步骤")
    steps = d.items([
        f"用印人在OA系统填写《用印申请单》（表单编号{form}），上传拟盖章文件的最终版本。",
        "部门负责人审核用印事由和文件内容。",
        f"合同金额在{money_zh(limit)}以上的，还须经法务部审核并报分管副总经理批准。",
        f"审批完成后，用印人持打印的申请单到行政部用印，行政部应在{days}个工作日内办理完毕。",
        "印章管理员核对文件与审批版本一致后盖章，并在用印登记簿上登记。",
    ], ordered=True)
    d.h("二、注意事项")
    d.p("严禁在空白文件、空白介绍信上加盖印章。印章原则上不得带出公司，确需外带的，须经总经理批准并由两人同行。")
    d.ask(f"{org.short}盖章要填哪张表？", f"《用印申请单》{form}", steps[0], "identifier")
    d.ask(f"表单{form}是办什么用的？", "用印申请", steps[0], "identifier")
    d.ask(f"{org.short}的合同多少钱以上，盖章前还得让法务看一遍？", money_zh(limit), steps[2], "paraphrase")
    d.ask(f"{org.short}审批走完以后，行政部几天内给盖好章？", f"{days}个工作日内", steps[3], "paraphrase")


def _zh_scrap(d: Doc, org, w: World, r: random.Random) -> None:
    form, years, limit = (
        w.code("ZC-F-0##"),
        w.distinct(f"{d.family}:years", lambda: r.choice([3, 4, 5, 6])),
        w.distinct(f"{d.family}:limit", lambda: r.choice([5000, 10000, 20000, 30000, 50000])),
    )
    d.p(f"为加强{org.name}固定资产管理，规范资产报废处置，防止国有和公司资产流失，制定本流程。")
    d.h("一、报废条件")
    cond = d.p(f"符合下列条件之一的固定资产可申请报废：已达到规定使用年限且无法继续使用；电子设备使用满{years}年且维修费用超过重置价值一半；因事故损毁无法修复。")
    d.h("二、办理步骤")
    steps = d.items([
        f"使用部门填写《固定资产报废申请表》（表单编号{form}），注明资产编号、原值和报废原因。",
        "资产管理部门组织技术鉴定，出具鉴定意见。",
        f"原值在{money_zh(limit)}以下的由财务总监审批，{money_zh(limit)}及以上的报总经理办公会审议。",
        "报废资产由资产管理部门统一回收，交有资质的单位处置，残值收入上交财务部。",
    ], ordered=True)
    d.ask(f"{org.short}的电脑用了几年以上，修理费又太贵，就可以申请报废？", f"满{years}年", cond, "paraphrase")
    d.ask(f"{org.short}原值多少以上的资产报废要上总经理办公会？", money_zh(limit), steps[2], "numeric")
    d.ask(f"报废申请表{form}要写哪些内容？", "资产编号、原值和报废原因", steps[0], "identifier")


def _zh_onboard(d: Doc, org, w: World, r: random.Random) -> None:
    probation, days, deposit = (
        w.distinct(f"{d.family}:probation", lambda: r.choice([1, 2, 3, 6])),
        w.distinct(f"{d.family}:days", lambda: r.randint(3, 10)),
        w.distinct(f"{d.family}:deposit", lambda: r.choice([0, 50, 100, 150, 200, 300])),
    )
    d.p(f"本流程规定{org.name}新员工从接到录用通知到正式上岗期间的手续办理，适用于全体新入职员工。")
    d.h("一、报到前")
    pre = d.p(f"新员工应在报到前{days}个工作日内，将身份证、学历学位证书、离职证明和体检报告的扫描件发送至人力资源部。")
    d.h("二、报到当天")
    day1 = d.items([
        "人力资源部办理劳动合同签订、社保和公积金登记。",
        "信息技术部开通邮箱、OA账号和门禁卡。" + (f"门禁卡押金{money_zh(deposit)}，离职时退还。" if deposit else "门禁卡不收押金。"),
        "部门负责人介绍工作内容，指定一名入职导师。",
    ])
    d.h("三、试用期")
    prob = d.p(f"新员工试用期为{probation}个月，试用期满前两周由部门负责人组织转正评估。")
    d.ask(f"{org.short}的新人要在上班前几天把证件材料发给人事？", f"报到前{days}个工作日内", pre, "paraphrase")
    d.ask(f"{org.short}新员工的试用期是几个月？", f"{probation}个月", prob, "numeric")
    d.ask(f"{org.short}新员工领门禁卡要不要交钱？", f"押金{money_zh(deposit)}" if deposit else "不收押金", day1[1], "paraphrase")


EN_PROCEDURES = [
    ("Procedure: Approving a New Supplier", _en_supplier),
    ("Procedure: Requesting a Laptop or Phone", _en_laptop),
    ("Procedure: Reporting an Accident at Work", _en_accident),
]
ZH_PROCEDURES = [
    ("用印申请办理流程", _zh_seal),
    ("固定资产报废处置流程", _zh_scrap),
    ("新员工入职办理流程", _zh_onboard),
]


def _intro_en(d: Doc, org, w: World, r: random.Random) -> None:
    owner = w.person_en()
    d.h("Scope and ownership")
    d.p(f"This procedure applies to all employees and contractors of {org.name}. It is owned by {owner}, who reviews it every year.",
        r.choice(["Questions should be sent to the owner by email.", "Suggestions for improving it are welcome at any time."]))


def _outro_en(d: Doc, r: random.Random) -> None:
    d.h("Related documents")
    d.items(r.sample(["Expenses Policy", "Information Security Policy", "Records Retention Policy",
                      "Health and Safety Policy", "Procurement Regulations", "Code of Conduct"], 3))
    d.p("Where this procedure conflicts with a policy, the policy prevails. Departures from the procedure need the written agreement of its owner.")


def _intro_zh(d: Doc, org, w: World, r: random.Random) -> None:
    owner = w.person_zh()
    d.h("适用范围与职责")
    d.p(f"本流程适用于{org.name}本部及所属各单位。流程归口管理人为{owner}，每年复核一次。",
        r.choice(["执行中遇到问题，请与归口管理人联系。", "各部门可随时提出改进建议。"]))


def _outro_zh(d: Doc, r: random.Random) -> None:
    d.h("相关文件")
    d.items(r.sample(["《费用报销管理办法》", "《信息安全管理规定》", "《资料与档案保存管理办法》",
                      "《安全生产管理规定》", "《采购管理规定》", "《员工手册》"], 3))
    d.p("本流程与公司制度不一致的，以公司制度为准。确需变通执行的，须经归口管理人书面同意。")


def build(w: World) -> list[Doc]:
    docs = []
    for title, write in EN_PROCEDURES:
        for org in EN_ORGS:
            r = w.sub(f"{title}{org.short}")
            d = Doc("en", "procedure", f"en-procedure-{title}", f"{org.short} {title}", r.choice(["md", "txt", "html"]))
            d.h("Purpose")
            write(d, org, w, r)
            _intro_en(d, org, w, r)
            _outro_en(d, r)
            docs.append(d)
    for title, write in ZH_PROCEDURES:
        for org in ZH_ORGS:
            r = w.sub(f"{title}{org.short}")
            d = Doc("zh", "procedure", f"zh-procedure-{title}", f"{org.short}{title}", r.choice(["md", "txt", "html"]))
            d.h("目的")
            write(d, org, w, r)
            _intro_zh(d, org, w, r)
            _outro_zh(d, r)
            docs.append(d)
    return docs

"""The sections every organisation's documents carry whatever they are about
(roles, monitoring, document control, safety notes, further FAQ entries):
drawn at random from pools, so documents vary in length and share the
generic text real documents share."""

from __future__ import annotations

import datetime
import random

from .doc import Articles, Doc
from .world import en_date


def _some(r: random.Random, pool: list, lo: int, hi: int) -> list:
    """Between `lo` and `hi` entries of `pool`, in the pool's order."""
    keep = set(r.sample(range(len(pool)), r.randint(lo, min(hi, len(pool)))))
    return [x for i, x in enumerate(pool) if i in keep]


def en_policy_tail(d: Doc, r: random.Random, dept: str, year: int | None) -> None:
    """Roles, monitoring, exceptions and document control, some of them."""
    sections = [
        ("Roles and responsibilities", lambda: d.items([
            "Employees read this policy, follow it and ask their manager when they are unsure how it applies.",
            "Line managers make sure their teams understand the policy and deal with requests promptly and fairly.",
            f"The {dept} department owns the policy, gives advice on it and reports on compliance to the executive team.",
            "Internal Audit tests compliance with the policy as part of its annual audit plan.",
        ])),
        ("Monitoring and review", lambda: d.p(
            f"The {dept} department reviews how the policy is working at least once a year, using audit findings, complaints and feedback from managers.",
            "Proposed changes are approved by the executive team. Minor changes, such as new contact details or system names, may be made without a full review and are recorded in the document control table.")),
        ("Exceptions", lambda: d.p(
            "Exceptions to this policy must be agreed in writing in advance by the policy owner and are recorded with the reason for them.",
            "An exception applies only to the case for which it was granted and does not set a precedent.")),
        ("Breaches", lambda: d.p(
            "Failure to follow this policy may lead to disciplinary action under the disciplinary procedure.",
            "Where a breach also breaks the law, the company may be required to report it to the relevant authority.")),
        ("Related documents", lambda: d.items(_some(r, [
            "Code of Conduct", "Disciplinary Procedure", "Data Protection Policy", "Anti-Bribery Policy",
            "Whistleblowing Policy", "Scheme of Delegation", "Employee Handbook"], 3, 5))),
    ]
    for title, write in _some(r, sections, 2, 5):
        d.h(title)
        write()
    if r.random() < 0.6:
        d.h("Document control")
        first = datetime.date((year or 2022) - r.randint(1, 4), r.randint(1, 12), 1)
        rows = [["1.0", en_date(first), "Executive team", "First issue"]]
        if year == 2024:
            rows.append(["2.0", en_date(datetime.date(2023, 1, 1)), "Executive team", "2023 edition"])
            rows.append(["3.0", en_date(datetime.date(2024, 1, 1)), "Executive team", "2024 edition: limits and deadlines revised"])
        elif year == 2023:
            rows.append(["2.0", en_date(datetime.date(2023, 1, 1)), "Executive team", "2023 edition"])
        d.table(["Version", "Date", "Approved by", "Summary of changes"], rows)


def zh_policy_duties(a: Articles, r: random.Random, dept: str, this: str) -> None:
    """The chapter on who does what, sometimes."""
    if r.random() < 0.3:
        return
    a.chapter("职责分工")
    for text in _some(r, [
        f"{dept}是{this}的归口管理部门，负责制度的制定、解释、培训和监督检查。",
        f"各部门负责人对本部门执行{this}的情况负责，并指定一名兼职管理员负责日常工作。",
        f"审计部每年对{this}的执行情况进行一次专项审计，审计结果报公司管理层。",
        f"员工应当认真学习{this}，严格按照{this}的规定办理相关事项。",
    ], 2, 4):
        a.art(text)


def zh_policy_oversight(a: Articles, r: random.Random, this: str) -> None:
    """The chapter on supervision and sanctions, sometimes."""
    if r.random() < 0.3:
        return
    a.chapter("监督检查")
    for text in _some(r, [
        f"公司对违反{this}的行为，视情节轻重给予通报批评、经济处罚或者纪律处分；给公司造成损失的，依法追究赔偿责任。",
        f"员工对{this}执行过程中的问题，可以向归口管理部门反映，也可以通过OA意见箱提出意见和建议。",
        "归口管理部门每半年对各部门执行情况进行一次抽查，抽查结果在公司内部通报。",
        "对检查中发现的问题，责任部门应在十五个工作日内完成整改，并书面报告整改情况。",
    ], 1, 3):
        a.art(text)


def spec_extra(d: Doc, r: random.Random) -> None:
    if d.lang == "zh":
        if r.random() < 0.7:
            d.h("安全注意事项")
            d.items(_some(r, [
                "设备运行时不得打开防护罩或检修门。", "检修前必须切断电源并悬挂警示牌。",
                "非专业人员不得拆卸电气元件。", "设备附近不得堆放易燃易爆物品。",
                "发现异常声响、气味或者温度过高时，应立即停机检查。", "长期停用时应断开电源并做好防尘防潮。",
            ], 3, 5))
        if r.random() < 0.6:
            d.h("执行标准与装箱清单")
            d.p("本产品按照相关国家标准和行业标准设计制造，出厂前经过逐台检验。",
                "装箱清单：主机一台、使用说明书一份、合格证一张、保修卡一张、随机工具一套。")
        return
    if r.random() < 0.7:
        d.h("Safety")
        d.items(_some(r, [
            "Do not open covers or access panels while the unit is running.",
            "Isolate the power supply and lock it off before any maintenance.",
            "Electrical work must be carried out by a qualified electrician.",
            "Keep flammable materials away from the unit.",
            "Stop the unit at once if it makes unusual noises or smells of burning.",
            "Disconnect the supply if the unit will be out of use for a long period.",
        ], 3, 5))
    if r.random() < 0.6:
        d.h("Compliance and package contents")
        d.p("The unit carries the UKCA and CE marks and is tested individually before it leaves the factory.",
            "The box contains the unit, the user manual, a declaration of conformity, a warranty card and a basic tool kit.")


EN_FAQ_POOL = [
    ("Who do I contact if my question is not answered here?", "Use the contact details at the top of this page. We aim to reply within two working days."),
    ("Is this page kept up to date?", "The page is reviewed every quarter. If you find something out of date, please let us know."),
    ("Can contractors use these services?", "Contractors engaged for more than three months can use most services; agency staff should ask their agency first."),
    ("Where can I find the related policy?", "All company policies are published on the intranet under Policies and Procedures."),
    ("What if I need an exception?", "Explain what you need and why to the team responsible. Exceptions are agreed in writing and reviewed regularly."),
    ("Can I ask on behalf of someone else?", "Yes, but some requests, such as those involving personal data, must come from the person concerned."),
]
ZH_FAQ_POOL = [
    ("以上没有我要问的问题怎么办？", "请按本页顶部的联系方式咨询，我们会在两个工作日内答复。"),
    ("本页内容多久更新一次？", "本页内容每季度更新一次，如发现内容过时，欢迎通过OA意见箱反馈。"),
    ("外包人员可以使用这些服务吗？", "驻场三个月以上的外包人员可以使用大部分服务，具体以各服务的说明为准。"),
    ("相关制度在哪里查看？", "公司各项制度均发布在OA系统“规章制度”栏目，可随时查阅。"),
    ("特殊情况需要例外处理怎么办？", "请向归口管理部门书面说明理由，经批准后办理，例外事项会定期复核。"),
    ("可以替同事代办吗？", "一般事项可以代办，涉及个人信息的事项须由本人办理。"),
    ("节假日期间遇到紧急问题找谁？", "节假日期间请联系公司总值班，值班安排以放假通知为准。"),
]


def faq_extra(d: Doc, r: random.Random) -> None:
    pool = ZH_FAQ_POOL if d.lang == "zh" else EN_FAQ_POOL
    for q, a in _some(r, pool, 2, 5):
        d.h(q, 3)
        d.p(a)


def notice_extra(d: Doc, r: random.Random) -> None:
    if d.lang == "zh":
        d.p(r.choice([
            "请各部门负责人及时将本通知传达至每一位员工，确保相关工作有序开展。",
            "请各部门高度重视，认真组织，做好宣传和落实工作。",
        ]), r.choice([
            "执行过程中如有疑问，请与发文部门联系。",
            "未尽事宜，另行通知。",
        ]), "特此通知。")
        return
    d.p(r.choice([
        "Managers are asked to make sure that everyone in their team, including colleagues on leave or working remotely, sees this notice.",
        "Please share this notice with colleagues who do not have regular access to email, such as those working on the warehouse floor.",
    ]), r.choice([
        "If anything in it is unclear, contact the team that issued it.",
        "Any changes to these arrangements will be announced on the intranet.",
    ]), "Thank you for your help and cooperation.")
    if r.random() < 0.6:
        d.p(r.choice([
            "This notice is also available in large print and in other formats on request.",
            "A copy of this notice has been placed on the noticeboards at every site.",
        ]))

"""FAQ pages of the intranet (mostly HTML): a question as a heading, its
answer as a paragraph. The questions asked of them are worded differently
from the FAQ's own headings."""

from __future__ import annotations

import random

from .boilerplate import faq_extra
from .doc import Doc
from .world import EN_ORGS, EN_WEEKDAYS, ZH_ORGS, ZH_WEEKDAYS, World, money_en, money_zh


def _qa(d: Doc, heading: str, *answer: str) -> str:
    d.h(heading, 3)
    return d.p(*answer)


def _en_it(d: Doc, org, w: World, r: random.Random) -> None:
    ssid, day, gb, ext = (
        f"{org.short}-Guest",
        w.distinct(f"{d.family}:day", lambda: r.choice(EN_WEEKDAYS[:5])),
        w.distinct(f"{d.family}:gb", lambda: r.choice([50, 100, 250, 1000])),
        w.phone_ext(),
    )
    hours = w.distinct(f"{d.family}:hours", lambda: r.choice(["7.30 am to 6 pm", "8 am to 6.30 pm", "8 am to 8 pm", "8 am to 5.30 pm"]))
    d.p(f"Answers to the questions the {org.short} service desk hears most often. If your question is not here, call extension {ext}.")
    reset = _qa(d, "I have forgotten my password. What do I do?",
                "Use the self-service reset link on the sign-in page; you will need the authenticator app on your phone.",
                f"If your account is locked, call the service desk on extension {ext} and have your staff number ready.")
    wifi = _qa(d, "Is there Wi-Fi for visitors?",
               f"Yes. Visitors connect to the {ssid} network. The password changes every {day} and is printed on the card at reception.")
    store = _qa(d, "How much file storage do I have?",
                f"Every account includes {gb} GB of personal cloud storage. Team files belong in the team's shared site, which has no fixed limit.")
    desk = _qa(d, "When is the service desk open?", f"The desk is staffed from {hours}, Monday to Friday. Outside those hours, urgent faults go to the on-call engineer through the same number.")
    _qa(d, "Can I read work email on my own phone?", "Yes, once the phone is enrolled in the company's device management app. Enrolment lets IT wipe company data, but not your own photos or apps, if the phone is lost.")
    _qa(d, "How do I get new software?", "Request it in the service portal. Titles on the approved list are installed automatically; anything else is reviewed by the security team first.")
    d.ask(f"Our visitor wants internet access at {org.short}: where does the Wi-Fi password change and how often?", f"{ssid}, changes every {day}", wifi, "paraphrase")
    d.ask(f"How big is my personal cloud drive at {org.short}?", f"{gb} GB", store, "paraphrase")
    d.ask(f"What time does {org.short}'s IT helpdesk close in the evening?", hours, desk, "paraphrase")
    d.ask(f"I'm locked out of my {org.short} account — which extension do I ring?", ext, reset, "paraphrase")


def _en_payroll(d: Doc, org, w: World, r: random.Random) -> None:
    payday, cutoff, pension, bank = (
        w.distinct(f"{d.family}:payday", lambda: r.choice([15, 20, 24, 25, 26, 28])),
        w.distinct(f"{d.family}:cutoff", lambda: r.choice([5, 7, 8, 10, 12, 15])),
        w.distinct(f"{d.family}:pension", lambda: r.choice([3, 4, 5, 6, 7, 8, 10])),
        w.distinct(f"{d.family}:bank", lambda: r.choice([3, 5, 7, 10])),
    )
    d.p(f"Common questions about pay at {org.name}, answered by the payroll team.")
    pay = _qa(d, "When will I be paid?", f"Salaries are paid on the {payday}th of each month. If that falls on a weekend or bank holiday, you are paid on the working day before.")
    ot = _qa(d, "What is the deadline for overtime claims?", f"Overtime approved by your manager must reach payroll by the {cutoff}th of the month to be paid that month; later claims are paid the following month.")
    pen = _qa(d, "How much does the company put into my pension?", f"{org.short} contributes {pension} per cent of basic salary when you contribute at least four per cent.")
    bk = _qa(d, "How do I change my bank details?", f"Update them in the HR portal at least {bank} working days before payday, or the payment will go to your old account.")
    _qa(d, "Where can I find my payslip?", "Payslips are published in the HR portal two days before payday and stay there for six years.")
    _qa(d, "I think my tax code is wrong. Who should I contact?", "Tax codes are set by HMRC, not by payroll. Contact HMRC directly; payroll applies the new code as soon as HMRC tells us.")
    d.ask(f"What day of the month does {org.short} pay salaries?", f"the {payday}th", pay, "paraphrase")
    d.ask(f"If I did extra hours at {org.short}, by what date must the paperwork be in to get the money this month?", f"the {cutoff}th of the month", ot, "paraphrase")
    d.ask(f"What percentage does {org.short} add to my retirement savings?", f"{pension}%", pen, "paraphrase")
    d.ask(f"I opened a new current account: how early must I tell {org.short} before payday?", f"{bank} working days", bk, "paraphrase")


def _en_facilities(d: Doc, org, w: World, r: random.Random) -> None:
    permit, bikes, lost, opens = (
        w.distinct(f"{d.family}:permit", lambda: r.randrange(15, 61, 5)),
        w.distinct(f"{d.family}:bikes", lambda: r.randrange(20, 121, 10)),
        w.distinct(f"{d.family}:lost", lambda: r.choice([7, 14, 21, 28, 30, 60, 90])),
        w.distinct(f"{d.family}:opens", lambda: r.choice(["6 am", "6.30 am", "7 am", "7.30 am", "8 am"])),
    )
    d.p(f"Practical questions about the {org.short} offices in {org.city}.")
    park = _qa(d, "Can I get a parking permit?", f"Permits cost {money_en(permit)} a month, taken from salary. There is a waiting list; blue badge holders are given a space straight away.")
    bike = _qa(d, "Where can I leave my bike?", f"The covered cycle store behind the building has {bikes} spaces and showers next to it. Use your staff pass to open it.")
    lp = _qa(d, "I have lost something in the building.", f"Ask at reception. Lost property is kept for {lost} days and then given to charity or destroyed.")
    bld = _qa(d, "What are the building's opening hours?", f"The building opens at {opens} and closes at 8 pm on weekdays. Weekend access must be booked with Facilities.")
    _qa(d, "How do I book a meeting room?", "Book rooms in the calendar. Rooms not checked in within fifteen minutes of the start are released.")
    d.ask(f"How much does it cost to park my car at the {org.short} office?", f"{money_en(permit)} a month", park, "paraphrase")
    d.ask(f"How many bicycles fit in the {org.short} cycle store?", str(bikes), bike, "numeric")
    d.ask(f"I left my umbrella somewhere in the {org.short} building — how long will they hold on to it?", f"{lost} days", lp, "paraphrase")
    d.ask(f"How early in the morning can I get into the {org.short} office?", opens, bld, "paraphrase")


def _zh_it(d: Doc, org, w: World, r: random.Random) -> None:
    ssid, day, gb, ext = (
        f"{org.short}-访客",
        w.distinct(f"{d.family}:day", lambda: r.choice(ZH_WEEKDAYS[:5])),
        w.distinct(f"{d.family}:gb", lambda: r.choice([2, 5, 10, 20, 30, 50])),
        w.phone_ext(),
    )
    d.p(f"以下是{org.short}信息技术部服务台最常被问到的问题。如未找到答案，请拨打分机{ext}。")
    reset = _qa(d, "忘记密码怎么办？", f"在登录页面点击自助重置，用手机验证码完成验证即可。账号被锁定的，请拨打服务台分机{ext}并提供工号。")
    wifi = _qa(d, "访客可以上网吗？", f"可以。访客请连接“{ssid}”网络，密码每{day}更新，张贴在前台。")
    mail = _qa(d, "邮箱容量是多少？", f"每个员工邮箱容量为{gb} GB，超出后将无法接收新邮件，请定期归档。")
    _qa(d, "在家怎么访问公司系统？", "在电脑上安装公司提供的VPN客户端，用OA账号和手机验证码登录后即可访问。")
    _qa(d, "需要安装软件怎么申请？", "在IT服务台系统提交软件安装申请，正版化清单内的软件由系统自动推送，其余软件须经信息安全审核。")
    d.ask(f"{org.short}来了客人要连网，用哪个热点，口令多久换一次？", f"{ssid}，每{day}更新", wifi, "paraphrase")
    d.ask(f"{org.short}的公司邮箱能存多少东西？", f"{gb} GB", mail, "paraphrase")
    d.ask(f"在{org.short}账号被锁了找谁？", f"服务台分机{ext}", reset, "paraphrase")


def _zh_payroll(d: Doc, org, w: World, r: random.Random) -> None:
    payday, fund, birthday, cutoff = (
        w.distinct(f"{d.family}:payday", lambda: r.choice([5, 8, 10, 12, 15, 18])),
        w.distinct(f"{d.family}:fund", lambda: r.choice([5, 6, 7, 8, 10, 12])),
        w.distinct(f"{d.family}:birthday", lambda: r.choice([100, 200, 300, 400, 500])),
        w.distinct(f"{d.family}:cutoff", lambda: r.choice([18, 20, 22, 25, 26])),
    )
    d.p(f"{org.short}人力资源部整理的薪酬福利常见问题解答。")
    pay = _qa(d, "每月什么时候发工资？", f"工资于每月{payday}日发放上月工资，遇节假日提前至最近的工作日。")
    hf = _qa(d, "住房公积金按什么比例缴纳？", f"公司和个人各按缴存基数的{fund}%缴纳住房公积金，缴存基数每年七月调整一次。")
    bd = _qa(d, "员工生日有什么福利？", f"员工生日当月可领取价值{money_zh(birthday)}的生日礼品卡，由工会统一发放。")
    ot = _qa(d, "加班费怎么申报？", f"经审批的加班应在每月{cutoff}日前在OA系统提交，逾期的并入下月核算。")
    _qa(d, "个税专项附加扣除在哪里填？", "请在个人所得税App中填报，公司在次月发薪时按申报信息扣除。")
    _qa(d, "工资条在哪里看？", "工资条在发薪当天通过OA系统“我的薪资”栏目推送，可查询近三年的记录。如对工资明细有疑问，请在发薪后五个工作日内联系人力资源部薪酬组。")
    d.ask(f"{org.short}几号发薪水？", f"每月{payday}日", pay, "paraphrase")
    d.ask(f"{org.short}的公积金公司交百分之几？", f"{fund}%", hf, "paraphrase")
    d.ask(f"{org.short}过生日公司给什么？", f"{money_zh(birthday)}生日礼品卡", bd, "paraphrase")
    d.ask(f"{org.short}周末加了班，最晚哪天之前要在系统里报上去？", f"每月{cutoff}日前", ot, "paraphrase")


def _zh_admin(d: Doc, org, w: World, r: random.Random) -> None:
    park, lost, bus, canteen = (
        w.distinct(f"{d.family}:park", lambda: r.randrange(80, 401, 20)),
        w.distinct(f"{d.family}:lost", lambda: r.choice([7, 10, 15, 20, 30, 60, 90])),
        w.distinct(f"{d.family}:bus", lambda: r.choice(["7:00", "7:10", "7:20", "7:30", "7:40", "7:50"])),
        w.distinct(f"{d.family}:canteen", lambda: r.choice(["11:00", "11:15", "11:30", "11:45", "12:00"])),
    )
    d.p(f"{org.short}行政部就日常后勤服务整理的常见问题。")
    pk = _qa(d, "员工可以在园区停车吗？", f"可以办理月度停车证，费用为每月{money_zh(park)}，从工资中代扣。车位有限，按申请先后排队。")
    lp = _qa(d, "捡到或丢了东西怎么办？", f"请到一楼前台登记。失物招领物品保管{lost}天，逾期无人认领的统一处理。")
    bs = _qa(d, "班车几点发车？", f"早班车{bus}从地铁站出发，晚班车17:40从公司门口发车，具体线路见OA公告。")
    cn = _qa(d, "食堂几点开饭？", f"午餐{canteen}开始供应，持工卡刷卡消费，访客可在前台购买餐券。")
    _qa(d, "会议室怎么预订？", "请在OA系统“会议室预订”模块选择会议室和时间段。预订后十五分钟内未签到的，系统将自动释放会议室。需要茶歇或者视频会议设备的，请在预订时备注。")
    _qa(d, "快递怎么收发？", "个人快递请寄到园区快递柜，公司不代收个人包裹。公务快递在前台登记后由行政部统一寄出，月底按部门结算。")
    d.ask(f"在{org.short}，开车上班一个月停车要交多少钱？", f"每月{money_zh(park)}", pk, "paraphrase")
    d.ask(f"在{org.short}丢了东西，前台给留多长时间？", f"{lost}天", lp, "paraphrase")
    d.ask(f"{org.short}早上接人的车几点走？", bus, bs, "paraphrase")
    d.ask(f"{org.short}中午饭堂几点可以吃饭？", canteen, cn, "paraphrase")


EN_FAQ = [("IT Service Desk: Frequently Asked Questions", _en_it), ("Payroll FAQ", _en_payroll),
          ("Offices and Facilities FAQ", _en_facilities)]
ZH_FAQ = [("IT服务常见问题", _zh_it), ("薪酬福利常见问题", _zh_payroll), ("行政后勤常见问题", _zh_admin)]


def build(w: World) -> list[Doc]:
    docs = []
    for lang, faqs, orgs in (("en", EN_FAQ, EN_ORGS), ("zh", ZH_FAQ, ZH_ORGS)):
        for i, (title, write) in enumerate(faqs):
            for org in (orgs[i % 4], orgs[(i + 1) % 4], orgs[(i + 2) % 4]):
                r = w.sub(f"{title}{org.short}")
                name = f"{org.short} {title}" if lang == "en" else f"{org.short}{title}"
                d = Doc(lang, "faq", f"{lang}-faq-{title}", name, r.choice(["html", "html", "md"]))
                write(d, org, w, r)
                faq_extra(d, r)
                docs.append(d)
    return docs

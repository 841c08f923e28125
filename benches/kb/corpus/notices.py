"""HR notices: some come back every year (health checks, holiday closures,
appraisals), so the 2023 notice is the distractor for a question about 2024;
others are one-off announcements."""

from __future__ import annotations

import datetime
import random

from .boilerplate import notice_extra
from .doc import Doc
from .world import EN_ORGS, ZH_ORGS, World, en_date, money_en, money_zh, zh_date

EN_CLINICS = [("Bupa Health Centre", "Park Square"), ("Nuffield Health", "Wellington Place"),
              ("Spire Occupational Health", "Quarry Hill"), ("HCA Healthcare", "Victoria Road")]
ZH_CLINICS = ["美年大健康体检中心", "爱康国宾体检中心", "瑞慈体检中心", "市第一人民医院健康管理中心"]
EN_VENUES = ["the main car park", "the grass area by the front gate", "the far end of the staff car park", "the bus stop opposite reception"]
ZH_VENUES = ["东门广场", "一号楼北侧空地", "员工停车场", "篮球场"]


def _en_head(d: Doc, sender: str, day: datetime.date) -> None:
    d.p(f"To: all staff. From: {sender}. Date: {en_date(day)}.")


def _zh_head(d: Doc, sender: str, day: datetime.date) -> None:
    d.p(f"各部门、全体员工：　　发文单位：{sender}　　日期：{zh_date(day)}")


def _en_health(d: Doc, org, year: int, w: World, r: random.Random) -> None:
    clinic, street = r.choice(EN_CLINICS)
    start = w.date(year, (9, 10))
    end = start + datetime.timedelta(days=r.choice([11, 18, 25]))
    deadline = start - datetime.timedelta(days=r.choice([7, 10, 14]))
    family = r.randrange(90, 221, 10)
    contact = w.person_en()
    _en_head(d, "Human Resources", start - datetime.timedelta(days=30))
    d.p(f"The {year} health checks for {org.short} employees are now open for booking. Every employee with at least six months' service is entitled to one free check each year, paid for by the company.")
    d.h("When and where")
    where = d.p(f"Checks take place at the {clinic} on {street}, {org.city}, between {en_date(start)} and {en_date(end)}.",
                "Each appointment takes about ninety minutes and counts as working time.")
    d.h("How to book")
    book = d.p(f"Book a slot in the HR portal by {en_date(deadline)}. Slots are given on a first-come basis and there are no appointments after the closing date.")
    d.h("Before your appointment")
    d.items(["Do not eat for eight hours before a morning appointment; water is fine.",
             "Bring photo identification and a list of any medicines you take.",
             "Results are sent to you directly by the clinic and are never shared with the company."])
    d.h("Family members")
    fam = d.p(f"Partners of employees may book the same check at a discounted price of {money_en(family)}, paid directly to the clinic.")
    d.p(f"Questions to {contact} in Human Resources.")
    d.ask(f"Where are {org.short}'s {year} staff health checks being held?", f"{clinic}, {street}", where, "numeric")
    d.ask(f"What's the last day to sign up for the {year} medical at {org.short}?", en_date(deadline), book, "paraphrase")
    d.ask(f"How much would it cost my husband to get the same {year} check-up through {org.short}?", money_en(family), fam, "paraphrase")


def _en_closure(d: Doc, org, year: int, w: World, r: random.Random) -> None:
    close = datetime.date(year, 12, r.choice([20, 22, 23]))
    reopen = datetime.date(year + 1, 1, r.choice([2, 3, 4]))
    freeze = close - datetime.timedelta(days=r.choice([5, 7, 10]))
    oncall = w.phone_ext()
    _en_head(d, "The Executive Team", datetime.date(year, 11, r.randint(1, 20)))
    d.p(f"As in previous years, {org.name} will close over the Christmas and New Year period so that everyone can have a proper break.")
    d.h("Closure dates")
    closed = d.p(f"The offices close at 1 pm on {en_date(close)} and reopen on {en_date(reopen)}.",
                 "Three days of the closure come from your annual leave allowance; the rest is granted by the company.")
    d.h("Systems")
    fr = d.p(f"To avoid problems while the offices are closed, no changes will be made to IT systems after {en_date(freeze)}, apart from emergency fixes.")
    d.h("Emergencies")
    em = d.p(f"During the closure, building or IT emergencies go to the on-call manager on extension {oncall}, which is forwarded to a mobile.")
    d.p("Customer-facing teams have agreed cover rotas with their managers. Please set an out-of-office message before you leave.")
    d.ask(f"When does {org.short} reopen after the {year} Christmas shutdown?", en_date(reopen), closed, "numeric")
    d.ask(f"From what date are IT changes frozen before {org.short}'s {year} year-end break?", en_date(freeze), fr, "paraphrase")
    d.ask(f"Who do I ring if the {org.short} building has a problem during the {year} festive closure?", f"extension {oncall}", em, "paraphrase")


def _en_appraisal(d: Doc, org, year: int, w: World, r: random.Random) -> None:
    self_due = w.date(year, (1, 2))
    review_end = self_due + datetime.timedelta(days=r.choice([21, 28, 35]))
    results = review_end + datetime.timedelta(days=r.choice([14, 21]))
    bonus = r.choice([3, 5, 6, 8, 10])
    _en_head(d, "Human Resources", self_due - datetime.timedelta(days=21))
    d.p(f"This notice sets out the timetable for the {year} performance reviews at {org.short}, covering the previous calendar year.")
    d.h("Timetable")
    sa = d.p(f"Employees complete their self-assessment in the HR portal by {en_date(self_due)}.")
    rv = d.p(f"Managers hold review conversations and submit ratings by {en_date(review_end)}. Ratings are calibrated across departments before they are shared.")
    rs = d.p(f"Final ratings and pay decisions are confirmed to employees on {en_date(results)}.")
    d.h("Bonus")
    bn = d.p(f"For {year}, the bonus pool has been set at {bonus} per cent of eligible salaries, shared according to company results and individual ratings.")
    d.p("Anyone who disagrees with their rating may ask for a second review by their manager's manager within ten working days.")
    d.h("Preparing for your review")
    d.p("Look back at the objectives you agreed last year and note the evidence for each one: results, feedback from colleagues and customers, and anything that got in the way.",
        "Managers should read the self-assessment before the conversation and set aside at least an hour for it. Training on giving balanced feedback is available in the learning portal.")
    d.ask(f"When is the self-assessment due in {org.short}'s {year} review round?", en_date(self_due), sa, "numeric")
    d.ask(f"How big is the {year} bonus pot at {org.short}?", f"{bonus}% of eligible salaries", bn, "paraphrase")
    d.ask(f"When will {org.short} staff hear their {year} rating and pay outcome?", en_date(results), rs, "paraphrase")


def _en_drill(d: Doc, org, year: int, w: World, r: random.Random) -> None:
    day = w.date(year, (3, 11))
    time, venue, wardens = r.choice(["10.30 am", "11 am", "2.30 pm"]), r.choice(EN_VENUES), r.randint(8, 24)
    _en_head(d, "Health and Safety", day - datetime.timedelta(days=10))
    d.p(f"A full evacuation drill will take place at the {org.short} {org.city} site. The fire alarm will sound continuously, and everyone in the building must leave by the nearest exit.")
    when = d.p(f"The drill is on {en_date(day)} at {time} and should take no more than twenty minutes.")
    where = d.p(f"The assembly point is {venue}. Report to your fire warden there; there are {wardens} trained wardens on site this year.")
    d.items(["Do not use the lifts.", "Do not stop to collect belongings.",
             "Visitors are the responsibility of their host.", "Anyone who needs help to evacuate should already have a personal plan; if not, contact Health and Safety."])
    d.p("The drill will be timed and observed, and the results shared with managers. A drill is the best way to find out whether our arrangements work before we ever need them.")
    d.ask(f"Where do we gather outside during the {org.short} fire practice in {year}?", venue, where, "paraphrase")
    d.ask(f"When is the {year} evacuation drill at {org.short}?", f"{en_date(day)}, {time}", when, "numeric")


def _en_training(d: Doc, org, year: int, w: World, r: random.Random) -> None:
    name = r.choice(["Leadership Essentials", "Managing People Well", "First Steps in Management"])
    start = w.date(year, (2, 10))
    seats, deadline, sessions = r.choice([12, 16, 20, 24]), start - datetime.timedelta(days=r.choice([14, 21])), r.choice([4, 5, 6])
    lead = w.person_en()
    _en_head(d, "Learning and Development", deadline - datetime.timedelta(days=20))
    d.p(f"Applications are open for the next cohort of {name}, {org.short}'s programme for new and aspiring line managers.")
    prog = d.p(f"The programme runs over {sessions} full-day sessions starting on {en_date(start)}, led by {lead}.",
               "Between sessions, participants work on a real problem from their own team with the support of a mentor.")
    seat = d.p(f"There are {seats} places. Apply through the learning portal by {en_date(deadline)} with a short statement supported by your manager.")
    d.p("Places are allocated to give a balance of departments and sites. Everyone who applies will hear the outcome within two weeks of the closing date.")
    d.h("What the programme covers")
    d.items(["Setting objectives and giving feedback that helps people improve.",
             "Handling difficult conversations, including absence and performance concerns.",
             "The basics of employment law that every manager needs to know.",
             "Looking after your own wellbeing and that of your team."])
    d.ask(f"How many people can join the {year} {name} course at {org.short}?", str(seats), seat, "paraphrase")
    d.ask(f"Who leads {org.short}'s {year} {name} programme, and how many days is it?", f"{lead}, {sessions} sessions", prog, "numeric")


def _zh_health(d: Doc, org, year: int, w: World, r: random.Random) -> None:
    clinic = r.choice(ZH_CLINICS)
    start = w.date(year, (4, 6))
    end = start + datetime.timedelta(days=r.choice([14, 21, 30]))
    deadline = start - datetime.timedelta(days=r.choice([5, 7, 10]))
    family = r.randrange(300, 901, 50)
    contact = w.person_zh()
    _zh_head(d, "人力资源部", start - datetime.timedelta(days=20))
    d.p(f"为关爱员工身体健康，公司决定组织{year}年度员工健康体检。现将有关事项通知如下：")
    d.h("一、体检对象")
    d.p("公司在职正式员工，入职满六个月的均可参加，体检费用由公司承担。")
    d.h("二、体检时间和地点")
    where = d.p(f"体检时间为{zh_date(start)}至{zh_date(end)}，地点为{org.city}{clinic}。")
    d.h("三、预约方式")
    book = d.p(f"请于{zh_date(deadline)}前在OA系统“员工服务”栏目选择体检日期，逾期未预约的视为自动放弃。")
    d.h("四、注意事项")
    d.items(["体检前一天晚上十点后禁食，体检当天早晨空腹。", "请携带本人身份证原件。",
             "女员工可根据需要选择妇科检查项目。", "体检报告由体检中心直接送达个人，公司不留存个人体检结果。"])
    d.h("五、家属体检")
    fam = d.p(f"员工直系亲属可享受同等套餐团购价{money_zh(family)}，费用自理。")
    d.h("六、其他")
    d.p("体检当天按正常出勤计算，请提前与部门负责人沟通工作安排。体检发现异常指标的，体检中心将电话通知本人复查。")
    d.p(f"联系人：{contact}。")
    d.ask(f"{org.short}{year}年的员工体检在哪里做？", f"{org.city}{clinic}", where, "numeric")
    d.ask(f"{org.short}{year}年体检，最晚哪天之前要在系统里约好？", zh_date(deadline), book, "paraphrase")
    d.ask(f"{org.short}{year}年体检，我爸妈跟着去检查要花多少钱？", money_zh(family), fam, "paraphrase")


def _zh_festival(d: Doc, org, year: int, w: World, r: random.Random) -> None:
    start = datetime.date(year, r.choice([1, 2]), r.randint(5, 20))
    days = r.choice([8, 9, 10])
    end = start + datetime.timedelta(days=days - 1)
    back = end + datetime.timedelta(days=1)
    makeup = start - datetime.timedelta(days=r.choice([6, 7, 8]))
    duty = w.person_zh()
    _zh_head(d, "行政部", start - datetime.timedelta(days=25))
    d.p(f"根据国务院办公厅关于{year}年部分节假日安排的通知，结合公司生产经营实际，现将{year}年春节放假安排通知如下：")
    d.h("一、放假时间")
    off = d.p(f"{zh_date(start)}至{zh_date(end)}放假调休，共{days}天；{zh_date(back)}正常上班。")
    mk = d.p(f"{zh_date(makeup)}（星期日）上班，补休一天。")
    d.h("二、值班安排")
    dt = d.p(f"节日期间公司实行领导带班和值班制度，总值班由{duty}负责，各部门值班表请于放假前三天报行政部。")
    d.h("三、有关要求")
    d.items(["放假前各部门要开展一次安全检查，关闭门窗和电源。", "节日期间外出的员工要注意交通安全。",
             "生产一线岗位按照排班表执行，加班费按国家规定发放。"])
    d.h("四、其他事项")
    d.p("节前最后一个工作日下午，各部门应完成办公区域的安全检查和卫生清理，关闭空调、饮水机等用电设备。",
        "返乡员工请提前规划行程，节后按时返岗；因特殊原因不能按时返岗的，须提前向部门负责人请假。")
    d.ask(f"{org.short}{year}年春节放完假哪天开始上班？", zh_date(back), off, "paraphrase")
    d.ask(f"{org.short}{year}年春节放假前哪天要补班？", zh_date(makeup), mk, "paraphrase")
    d.ask(f"{org.short}{year}年春节的总值班是谁？", duty, dt, "numeric")


def _zh_appraisal(d: Doc, org, year: int, w: World, r: random.Random) -> None:
    self_due = w.date(year, (1, 1))
    review_end = self_due + datetime.timedelta(days=r.choice([14, 21]))
    excellent = r.choice([10, 15, 20])
    _zh_head(d, "人力资源部", self_due - datetime.timedelta(days=14))
    d.p(f"为客观评价员工{year - 1}年度工作业绩，现就{year}年度绩效考核工作通知如下：")
    d.h("一、时间安排")
    sa = d.p(f"员工于{zh_date(self_due)}前在绩效系统完成个人述职和自评。")
    rv = d.p(f"各部门于{zh_date(review_end)}前完成考核评分和面谈，并将结果报人力资源部。")
    d.h("二、等级比例")
    ex = d.p(f"考核结果分为优秀、良好、合格、待改进四个等级，优秀等级人数原则上不超过部门人数的{excellent}%。")
    d.h("三、结果应用")
    d.p("考核结果作为年度调薪、评优和岗位调整的依据。对考核结果有异议的，可在结果公布后五个工作日内向人力资源部申诉。")
    d.h("四、考核内容")
    d.p("考核内容包括年度业绩目标完成情况、工作能力和工作态度三个方面。业绩目标以年初签订的绩效责任书为准，",
        "工作能力和工作态度由直接上级结合日常表现进行评价。部门负责人的考核由分管领导组织实施。")
    d.h("五、工作要求")
    d.p("各部门要高度重视年度考核工作，坚持实事求是、客观公正，不得搞平均主义或者轮流坐庄。考核面谈应当一对一进行，",
        "肯定成绩、指出不足，并共同确定下一年度的改进计划。")
    d.ask(f"{org.short}{year}年考核，个人自评要在哪天前交？", zh_date(self_due), sa, "numeric")
    d.ask(f"{org.short}{year}年绩效，一个部门最多能有百分之几的人拿优秀？", f"{excellent}%", ex, "paraphrase")
    d.ask(f"{org.short}{year}年考核，领导打分和谈话最晚什么时候搞完？", zh_date(review_end), rv, "paraphrase")


def _zh_drill(d: Doc, org, year: int, w: World, r: random.Random) -> None:
    day = w.date(year, (3, 11))
    time, venue, marshals = r.choice(["9:30", "10:00", "14:30"]), r.choice(ZH_VENUES), r.randint(10, 30)
    _zh_head(d, "安全环保部", day - datetime.timedelta(days=7))
    d.p(f"为提高全体员工的消防安全意识和应急疏散能力，公司定于近期在{org.city}厂区组织消防应急疏散演练。")
    when = d.p(f"演练时间：{zh_date(day)}{time}，届时火灾报警铃声将持续响起。")
    where = d.p(f"听到警报后，请按照疏散指示标志从最近的安全出口撤离，到{venue}集合，由各楼层疏散引导员清点人数。本次演练共设疏散引导员{marshals}名。")
    d.items(["撤离时不得乘坐电梯。", "不要返回取个人物品。", "来访客人由接待人员负责引导撤离。"])
    d.h("演练内容")
    d.items(["火情发现与报警：模拟仓库发生火情，由发现人按下手动报警按钮并电话报告中控室。",
             "初期火灾扑救：义务消防队员使用灭火器和室内消火栓进行扑救。",
             "人员疏散：各楼层按疏散路线有序撤离至集合点。",
             "伤员救护：医务人员对模拟受伤人员进行简单包扎和转运。"])
    d.p("演练由公司分管安全的副总经理担任总指挥，安全环保部负责现场组织。演练结束后，安全环保部将进行讲评，并组织灭火器实操培训。")
    d.ask(f"{org.short}{year}年消防演练，跑出来以后在哪儿站队？", venue, where, "paraphrase")
    d.ask(f"{org.short}{year}年消防疏散演练是什么时候？", f"{zh_date(day)}{time}", when, "numeric")


def _zh_heat(d: Doc, org, year: int, w: World, r: random.Random) -> None:
    outdoor, indoor, temp = r.choice([200, 300, 400]), r.choice([150, 200, 240]), r.choice([33, 35])
    _zh_head(d, "人力资源部", datetime.date(year, 5, r.randint(20, 30)))
    d.p(f"根据{org.city}有关防暑降温的规定，现将公司{year}年高温津贴发放事项通知如下：")
    period = d.p(f"高温津贴发放时间为{year}年6月至9月，共四个月，随当月工资一并发放。")
    amount = d.p(f"从事室外露天作业的员工，每人每月{money_zh(outdoor)}；在室内工作但工作场所温度不能降低到{temp}℃以下的员工，每人每月{money_zh(indoor)}。")
    d.h("防暑降温措施")
    d.items(["各部门应合理安排作业时间，中午十二时至下午三时尽量减少室外作业。",
             "行政部负责向一线班组发放绿豆汤、藿香正气水和清凉油等防暑降温用品。",
             "车间、仓库应保持通风，必要时增设工业风扇和喷雾降温设备。",
             "员工出现头晕、乏力、大量出汗等中暑症状的，应立即停止作业，转移到阴凉处并及时送医。"])
    d.h("工作要求")
    d.p("各部门负责人要切实履行防暑降温管理职责，每日检查高温作业场所的降温措施落实情况。",
        "人力资源部将会同安全环保部不定期开展抽查，对措施不落实的部门予以通报。")
    d.ask(f"{org.short}{year}年在外面干活的员工，夏天每个月多发多少钱？", money_zh(outdoor), amount, "paraphrase")
    d.ask(f"{org.short}{year}年高温津贴发几个月？", "6月至9月，共四个月", period, "numeric")


EN_RECURRING = [("Staff Health Checks", _en_health), ("Christmas and New Year Closure", _en_closure),
                ("Performance Review Timetable", _en_appraisal)]
EN_ONE_OFF = [("Fire Evacuation Drill", _en_drill), ("Management Programme: Call for Applications", _en_training)]
ZH_RECURRING = [("关于{year}年度员工健康体检的通知", _zh_health), ("关于{year}年春节放假安排的通知", _zh_festival),
                ("关于开展{year}年度绩效考核工作的通知", _zh_appraisal)]
ZH_ONE_OFF = [("关于{year}年消防应急疏散演练的通知", _zh_drill), ("关于{year}年高温津贴发放的通知", _zh_heat)]


def _doc(w: World, lang: str, title: str, write, org, year: int) -> Doc:
    r = w.sub(f"{title}{org.short}{year}")
    if lang == "en":
        d = Doc("en", "notice", f"en-notice-{title}-{org.short}", f"{org.short} notice: {year} {title}", r.choice(["html", "md", "txt"]))
    else:
        d = Doc("zh", "notice", f"zh-notice-{title}-{org.short}", org.short + title.format(year=year), r.choice(["html", "md", "txt"]))
    write(d, org, year, w, r)
    notice_extra(d, r)
    return d


def build(w: World) -> list[Doc]:
    docs = []
    for lang, recurring, one_off, orgs in (("en", EN_RECURRING, EN_ONE_OFF, EN_ORGS), ("zh", ZH_RECURRING, ZH_ONE_OFF, ZH_ORGS)):
        for i, (title, write) in enumerate(recurring):
            for org in (orgs[i % 4], orgs[(i + 2) % 4]):
                docs += [_doc(w, lang, title, write, org, year) for year in (2023, 2024)]
        for i, (title, write) in enumerate(one_off):
            for org in orgs:
                docs.append(_doc(w, lang, title, write, org, w.rng.choice([2023, 2024])))
    return docs

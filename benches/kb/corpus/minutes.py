"""Minutes of recurring meetings: four meetings of each committee, with the
same people and subjects coming back with new figures, so that the meeting
of one month is the tempting wrong answer for a question about another."""

from __future__ import annotations

import datetime
import random
from dataclasses import dataclass

from .doc import Doc
from .world import EN_ORGS, EN_SUPPLIERS, ZH_ORGS, ZH_SUPPLIERS, World, en_date, money_en, money_zh, zh_date

MEETINGS_PER_SERIES = 4


@dataclass
class Committee:
    name: str
    budgets: list[tuple[str, str]]  # (subject as minuted, the same said differently)
    counts: list[tuple[str, str]]  # (what was counted, said differently)
    projects: list[tuple[str, str]]
    rooms: list[str]


EN_COMMITTEES = [
    Committee("IT Steering Group",
              [("replacement of the ageing laptop fleet", "new notebooks for staff"),
               ("a second internet line for the head office", "backup broadband"),
               ("migration of file shares to cloud storage", "moving the shared drives online")],
              [("phishing emails reported by staff", "suspicious messages people flagged"),
               ("service desk tickets that breached their target time", "helpdesk requests that were dealt with late")],
              [("the new finance system", "the accounts software"),
               ("multi-factor authentication for all staff", "two-step sign-in for everyone")],
              ["Boardroom", "Meeting Room 2", "Microsoft Teams"]),
    Committee("Health and Safety Committee",
              [("annual inspection of the warehouse racking", "checking the shelving in the warehouse"),
               ("defibrillators for every site", "heart-start machines"),
               ("anti-slip flooring at the loading bay", "a less slippery floor where lorries unload")],
              [("near misses", "close calls where nobody was hurt"),
               ("lost-time injuries", "accidents that kept someone off work")],
              [("the fire risk assessment review", "rechecking the fire hazards"),
               ("first-aid training for shift leaders", "teaching supervisors first aid")],
              ["Training Room", "Canteen annexe", "Site office"]),
    Committee("Facilities Working Group",
              [("roof repairs over the east warehouse", "fixing the leaking warehouse roof"),
               ("LED lighting in the staff car park", "brighter lamps where we park"),
               ("a new access control system at reception", "door entry badges")],
              [("out-of-hours alarm call-outs", "times the alarm went off at night"),
               ("complaints about office heating", "people saying the office was cold")],
              [("the refurbishment of the second floor", "redoing the second floor"),
               ("the move of the post room to the ground floor", "relocating where the mail is sorted")],
              ["Meeting Room 1", "Facilities office", "Reception meeting pod"]),
    Committee("Product Launch Board",
              [("the in-store tasting campaign", "handing out free samples in supermarkets"),
               ("new packaging artwork for the cereal range", "redesigned boxes for the breakfast cereals"),
               ("a trade show stand at Food Expo", "our booth at the big food fair")],
              [("customer complaints about the oat bar range", "unhappy buyers of the oat bars"),
               ("retailer listings secured", "shops that agreed to stock us")],
              [("the launch of the plant-based yoghurt line", "bringing out the vegan yoghurts"),
               ("the switch to recyclable film on snack packs", "greener wrappers on the snacks")],
              ["Marketing Suite", "Boardroom", "Innovation Kitchen"]),
]

ZH_COMMITTEES = [
    Committee("信息化建设领导小组",
              [("数据中心服务器扩容", "机房里再添几台服务器"),
               ("生产车间无线网络覆盖", "厂房里装WiFi"),
               ("ERP系统升级", "把财务和进销存软件换成新版本")],
              [("员工上报的钓鱼邮件", "大家举报的可疑邮件"),
               ("超时未处理的运维工单", "没按时修好的IT报修")],
              [("MES生产执行系统上线", "车间管理软件正式用起来"),
               ("统一身份认证平台建设", "一个账号登录所有系统")],
              ["三楼第一会议室", "行政楼二楼会议室", "视频会议"]),
    Committee("安全生产委员会",
              [("叉车防撞预警系统加装", "给叉车装上防撞的报警装置"),
               ("仓库消防喷淋系统改造", "库房灭火喷头的更新"),
               ("驾驶员疲劳驾驶监测设备", "监控司机开车打瞌睡的设备")],
              [("未遂事件", "差一点出事但没人受伤的情况"),
               ("工伤事故", "员工干活时受伤的事")],
              [("年度消防应急演练", "全员着火逃生练习"),
               ("危险化学品仓库整改", "存放危化品库房的问题修改")],
              ["调度中心会议室", "安全培训室", "二号仓库办公室"]),
    Committee("行政后勤工作例会",
              [("员工食堂改造", "饭堂重新装修"),
               ("通勤班车增开线路", "多开一条上下班的接送车"),
               ("办公区中央空调更换", "办公室冷气机换新")],
              [("后勤报修工单", "东西坏了找后勤修的单子"),
               ("食堂满意度调查有效问卷", "饭堂打分表收回来的份数")],
              [("新园区搬迁", "搬到新的办公地点"),
               ("办公用品集中采购平台上线", "文具统一在网上领")],
              ["综合楼201会议室", "行政部会议室", "新园区临时办公室"]),
    Committee("新产品上市推进会",
              [("商超试吃推广活动", "在超市请顾客免费尝一尝"),
               ("饼干系列包装改版", "给饼干换新包装"),
               ("糖酒会展位搭建", "在大型食品展会上搭摊位")],
              [("燕麦棒系列客户投诉", "顾客对燕麦棒不满意的反映"),
               ("新增商超门店进场", "新谈下来愿意卖我们货的超市")],
              [("植物蛋白饮料上市", "推出豆乳燕麦奶这类新饮品"),
               ("零食包装改用可回收膜", "零食袋换成能回收的材料")],
              ["营销中心会议室", "研发中心品鉴室", "总经理办公室"]),
]


def _en_minutes(c: Committee, org, people: list[str], chair: str, clerk: str, day: datetime.date,
                prev: datetime.date | None, r: random.Random) -> Doc:
    d = Doc("en", "minutes", f"en-minutes-{c.name}", f"{org.short} {c.name}: minutes of the meeting held on {en_date(day)}",
            r.choice(["md", "txt", "html"]))
    when = f"the {c.name} meeting on {en_date(day)}"
    month = f"{day.strftime('%B')} {day.year}"
    present = r.sample(people, 4)
    away = [p for p in people if p not in present][:1]
    d.p(f"Held in {r.choice(c.rooms)} at {r.choice(['9.30 am', '10.00 am', '2.00 pm', '3.30 pm'])}. Chair: {chair}. "
        f"Present: {', '.join(present)}. Apologies: {', '.join(away)}. Minutes: {clerk}.")
    d.h("1. Previous minutes and matters arising")
    if prev is None:
        d.p(f"This was the first meeting of the {c.name} in its new form. The chair welcomed members and the terms of reference were agreed.")
    else:
        d.p(f"The minutes of the meeting on {en_date(prev)} were approved as a true record. All actions were complete or are covered below.")
    actions = []
    item = 2
    subject, said = r.choice(c.budgets)
    supplier = r.choice(EN_SUPPLIERS)[0]
    quotes = r.randint(2, 4)
    low = r.randrange(6000, 90001, 500)
    approved = low + r.randrange(0, 6001, 500)
    d.h(f"{item}. {subject[0].upper()}{subject[1:]}")
    d.p(f"{present[0]} presented {quotes} quotes for the {subject}. The lowest, from {supplier}, was {money_en(low)};",
        "members asked whether it included disposal of the old equipment and out-of-hours working, and were told that it did.")
    budget = d.p(f"Decision: the group approved a budget of {money_en(approved)} for the {subject}, including a contingency.")
    d.ask(f"What budget was approved for the {subject} at {when}?", money_en(approved), budget, "numeric")
    d.ask(f"How much money did the {c.name} agree to put towards {said} in {month}?", money_en(approved), budget, "paraphrase")
    due = day + datetime.timedelta(days=r.choice([14, 21, 28]))
    actions.append([f"Place the order for the {subject}", present[0], en_date(due)])
    item += 1
    counted, said = r.choice(c.counts)
    now, before = r.randint(3, 40), r.randint(3, 40)
    d.h(f"{item}. {counted[0].upper()}{counted[1:]}")
    count = d.p(f"{present[1]} reported {now} {counted} since the last meeting, compared with {before} in the same period last year.")
    d.p(r.choice(["Most related to a small number of teams, who will be offered a short refresher session.",
                  "No single cause stood out; the figures will be broken down by site for the next meeting.",
                  "The committee noted the trend and asked for the underlying reports to be circulated."]))
    d.ask(f"How many {counted} were reported at {when}?", str(now), count, "numeric")
    d.ask(f"According to the {c.name} minutes from {month}, how many {said} had there been?", str(now), count, "paraphrase")
    item += 1
    project, said = r.choice(c.projects)
    go_live = day + datetime.timedelta(days=r.randrange(30, 150, 7))
    owner = r.choice(present[1:])
    d.h(f"{item}. {project[0].upper()}{project[1:]}")
    d.p(f"{owner} gave an update on {project}. Testing with a pilot group is {r.choice(['complete', 'nearly complete', 'behind plan by two weeks'])}",
        f"and {r.randint(2, 9)} issues remain open, none of them blocking.")
    date_p = d.p(f"Decision: the target date for {project} was set at {en_date(go_live)}, with {owner} accountable for delivery.")
    d.ask(f"What target date was set for {project} at {when}?", en_date(go_live), date_p, "numeric")
    d.ask(f"Who was made responsible for {said} when the {c.name} met in {month}?", owner, date_p, "paraphrase")
    actions.append([f"Circulate the plan for {project}", owner, en_date(day + datetime.timedelta(days=7))])
    d.h("Actions")
    table = d.table(["Action", "Owner", "Due"], actions)
    d.ask(f"By when must the order for the {subject} be placed, according to the actions of {when}?",
          en_date(due), d.row(table, actions[0][0]), "numeric")
    d.h("Any other business")
    d.p(r.choice(["None.", "Members were reminded to complete their annual declarations of interest.",
                  "The chair thanked the team for their work during the recent office move."]))
    return d


def _zh_minutes(c: Committee, org, people: list[str], chair: str, clerk: str, day: datetime.date,
                prev: datetime.date | None, r: random.Random) -> Doc:
    d = Doc("zh", "minutes", f"zh-minutes-{c.name}", f"{org.short}{c.name}会议纪要（{zh_date(day)}）",
            r.choice(["md", "txt", "html"]))
    when = f"{zh_date(day)}的{c.name}会议"
    month = f"{day.year}年{day.month}月"
    present = r.sample(people, 4)
    away = [p for p in people if p not in present][:1]
    d.p(f"时间：{zh_date(day)} {r.choice(['9:00', '10:00', '14:00', '15:30'])}　地点：{r.choice(c.rooms)}　主持：{chair}　"
        f"出席：{'、'.join(present)}　请假：{'、'.join(away)}　记录：{clerk}")
    d.h("一、上次会议纪要确认")
    if prev is None:
        d.p(f"本次为{c.name}调整后的第一次会议。会议审议并通过了工作规则，明确了各成员的分工。")
    else:
        d.p(f"会议确认了{zh_date(prev)}会议纪要，上次会议布置的事项均已完成或列入本次议题。")
    subject, said = r.choice(c.budgets)
    supplier = r.choice(ZH_SUPPLIERS)[0]
    quotes = r.randint(2, 4)
    low = r.randrange(50000, 900001, 5000)
    approved = low + r.randrange(0, 60001, 5000)
    d.h(f"二、关于{subject}")
    d.p(f"{present[0]}汇报了{subject}的询价情况，共收到{quotes}家报价，其中{supplier}报价最低，为{money_zh(low)}。",
        "与会人员就报价是否包含旧设备拆除、夜间施工和质保服务进行了讨论，经核实均已包含。")
    budget = d.p(f"会议决定：同意{subject}预算{money_zh(approved)}（含不可预见费），由采购部按程序组织签约。")
    d.ask(f"{when}批准的{subject}预算是多少？", money_zh(approved), budget, "numeric")
    d.ask(f"{month}{c.name}开会，同意在{said}上花多少钱？", money_zh(approved), budget, "paraphrase")
    due = day + datetime.timedelta(days=r.choice([14, 21, 28]))
    actions = [[f"完成{subject}合同签订", present[0], zh_date(due)]]
    counted, said = r.choice(c.counts)
    now, before = r.randint(3, 40), r.randint(3, 40)
    d.h(f"三、{counted}情况通报")
    count = d.p(f"{present[1]}通报：自上次会议以来共发生{counted}{now}起，去年同期为{before}起。")
    d.p(r.choice(["问题主要集中在少数班组，会议要求相关部门组织专题培训。",
                  "未发现集中性原因，会议要求下次会议按部门分别统计。",
                  "会议要求将详细情况汇编成册，发送各成员单位。"]))
    d.ask(f"{when}通报的{counted}有多少起？", f"{now}起", count, "numeric")
    d.ask(f"{month}的{c.name}纪要里说，{said}一共有几次？", f"{now}起", count, "paraphrase")
    project, said = r.choice(c.projects)
    go_live = day + datetime.timedelta(days=r.randrange(30, 150, 7))
    owner = r.choice(present[1:])
    d.h(f"四、{project}进展")
    d.p(f"{owner}汇报了{project}的进展：试点{r.choice(['已经完成', '基本完成', '比计划滞后两周'])}，",
        f"目前尚有{r.randint(2, 9)}个问题待解决，均不影响整体进度。")
    date_p = d.p(f"会议决定：{project}的目标完成时间定为{zh_date(go_live)}，由{owner}牵头负责。")
    d.ask(f"{when}确定的{project}目标完成时间是哪天？", zh_date(go_live), date_p, "numeric")
    d.ask(f"{month}{c.name}开会时，{said}这件事定了谁来牵头？", owner, date_p, "paraphrase")
    actions.append([f"印发{project}工作方案", owner, zh_date(day + datetime.timedelta(days=7))])
    d.h("五、待办事项")
    table = d.table(["事项", "责任人", "完成时间"], actions)
    d.ask(f"按照{when}的待办事项，{subject}合同要在什么时候前签好？", zh_date(due), d.row(table, actions[0][0]), "numeric")
    d.h("六、其他事项")
    d.p(r.choice(["无。", "会议提醒各成员按时提交年度廉洁承诺书。", "主持人对近期搬迁工作中各部门的配合表示感谢。"]))
    return d


def _series(w: World, lang: str, c: Committee, org) -> list[Doc]:
    r = w.rng
    person = w.person_zh if lang == "zh" else w.person_en
    people = [person() for _ in range(6)]
    chair, clerk = person(), person()
    day = w.date(2024, (1, 3))
    docs, prev = [], None
    write = _zh_minutes if lang == "zh" else _en_minutes
    for _ in range(MEETINGS_PER_SERIES):
        docs.append(write(c, org, people, chair, clerk, day, prev, w.sub(f"{c.name}{day}")))
        prev = day
        day = day + datetime.timedelta(days=r.choice([35, 42, 49]))  # never two in one month
    return docs


def build(w: World) -> list[Doc]:
    docs = []
    for i, c in enumerate(EN_COMMITTEES):
        docs += _series(w, "en", c, EN_ORGS[(i + 1) % len(EN_ORGS)])
    for i, c in enumerate(ZH_COMMITTEES):
        docs += _series(w, "zh", c, ZH_ORGS[i % len(ZH_ORGS)])
    return docs

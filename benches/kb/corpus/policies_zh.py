"""中文制度：费用报销、差旅、休假、信息安全、资料保存，每家公司各一份，
按"章—条"的格式写。"""

from __future__ import annotations

import datetime
import random

from .boilerplate import zh_policy_duties, zh_policy_oversight
from .doc import Articles, Doc
from .editions import PolicyKind, policy_docs
from .world import ZH_ORGS, Org, World, money_zh, zh_date


def _title(org: Org, name: str, year: int | None) -> str:
    return f"{org.name}{name}" + ("" if year is None else f"（{year}年版）")


def _ctx(org: Org, name: str, year: int | None) -> str:
    return f"{org.short}的《{name}》" if year is None else f"{org.short}《{name}（{year}年版）》"


def _at(org: Org, year: int | None) -> str:
    return f"在{org.short}" if year is None else f"按{org.short}{year}年版的规定"


def _effective(name: str, year: int | None, r: random.Random) -> str:
    if year is None:
        day = datetime.date(r.choice([2022, 2023, 2024]), r.randint(1, 12), 1)
        return f"本办法自{zh_date(day)}起施行。"
    day = datetime.date(year, r.choice([1, 3, 7]), 1)
    if year == 2024:
        return f"本办法自{zh_date(day)}起施行，原《{name}（2023年版）》同时废止。"
    return f"本办法自{zh_date(day)}起施行。"


def _this(name: str) -> str:
    """How the document calls itself: 本办法, 本制度, 本规定."""
    return "本" + name[-2:]


def _ext(r: random.Random) -> str:
    return r.choice(["md", "md", "txt", "html"])


# --- 费用报销 ---------------------------------------------------------------

EXPENSE = {
    "claim_days": lambda r: r.choice([15, 30, 60, 90]),
    "vat_min": lambda r: r.choice([500, 1000, 2000, 5000]),
    "ent_cap": lambda r: r.randrange(100, 401, 50),
    "dept_limit": lambda r: r.choice([2000, 3000, 5000, 8000, 10000]),
    "loan_days": lambda r: r.choice([7, 10, 15, 30]),
    "e_invoice": lambda r: r.choice([True, False]),
}


def _expense_fixed(w: World) -> dict:
    return {"contact": w.person_zh(), "ext_no": w.phone_ext(), "ref": w.code("CW-ZD-0##")}


def _expense(org: Org, v: dict, year: int | None, r: random.Random) -> Doc:
    name = "费用报销管理办法"
    d = Doc("zh", "policy", f"zh-expense-{org.short}", _title(org, name, year), _ext(r))
    a = Articles(d)
    ctx, at = _ctx(org, name, year), _at(org, year)
    system = r.choice(["费控系统", "OA系统", "网上报销平台"])
    a.chapter("总则")
    a.art(f"为规范{org.name}（以下简称公司）的费用报销管理，加强成本控制，根据《中华人民共和国会计法》等有关规定，结合公司实际，制定本办法。制度编号：{v['ref']}。")
    a.art("本办法适用于公司本部及各分公司、子公司的全体员工。")
    a.art(r.choice([
        "费用报销遵循先审批、后支出，真实、合理、节约的原则，严禁虚报、冒领或者拆分报销。",
        "各项费用支出应当真实、合法、与公司业务相关，报销人对所报费用的真实性负责。",
    ]))
    zh_policy_duties(a, r, "财务部", _this(name))
    a.chapter("报销时限与票据要求")
    _, claim = a.art(f"报销人应在费用发生之日起{v['claim_days']}日内通过{system}提交报销申请，逾期未报销的，须经财务总监批准后方可办理。")
    _, vat = a.art(f"单笔金额在{money_zh(v['vat_min'])}以上的费用，须取得增值税专用发票；{money_zh(v['vat_min'])}以下的，可凭增值税普通发票报销。")
    if v["e_invoice"]:
        _, einv = a.art(f"电子发票可直接上传至{system}，由系统自动查验真伪，无需打印纸质件。")
    else:
        _, einv = a.art("电子发票须打印后由报销人签字确认，连同其他纸质单据一并交财务部审核。")
    d.ask(f"根据{ctx}，费用发生后多少日内必须提交报销申请？", f"{v['claim_days']}日内", claim, "numeric", "claim_days")
    d.ask(f"{at}，自己先垫付的钱最晚多久要交单？", f"费用发生之日起{v['claim_days']}日内", claim, "paraphrase", "claim_days")
    d.ask(f"{at}，一笔花多少钱以上就得开专票？", money_zh(v["vat_min"]), vat, "paraphrase", "vat_min")
    d.ask(f"{at}，电子发票还要不要打出来交上去？", "不需要打印" if v["e_invoice"] else "需要打印并签字", einv, "paraphrase", "e_invoice")
    a.chapter("业务招待费")
    a.art("业务招待应当事先填写《业务招待申请单》，注明招待对象、人数和事由，经部门负责人同意后方可安排。")
    label, ent = a.art(f"业务招待费标准为每人每餐不超过{money_zh(v['ent_cap'])}，酒水费用计入标准之内，超标部分由个人承担。")
    d.ask(f"{at}请客户吃饭，一个人最多能花多少钱？", f"每人每餐{money_zh(v['ent_cap'])}", ent, "paraphrase", "ent_cap")
    d.ask(f"{ctx}{label}规定的招待标准是多少？", f"每人每餐不超过{money_zh(v['ent_cap'])}", ent, "identifier", "ent_cap")
    a.chapter("审批权限")
    a.art("费用报销实行分级审批，各级审批权限如下表所示。")
    table = d.table(
        ["审批人", "单笔审批权限", "备注"],
        [
            ["部门负责人", f"{money_zh(v['dept_limit'])}以下", "本部门日常费用"],
            ["分管副总经理", f"{money_zh(v['dept_limit'])}至{money_zh(v['dept_limit'] * 5)}", "含业务招待费"],
            ["总经理", f"{money_zh(v['dept_limit'] * 5)}以上", "含各部门负责人本人的报销"],
        ],
    )
    d.ask(f"根据{ctx}，部门负责人单笔能批多少钱以内的报销？", f"{money_zh(v['dept_limit'])}以下", d.row(table, "部门负责人"), "numeric", "dept_limit")
    a.chapter("借款管理")
    _, loan = a.art(f"员工因公借款的，应在业务完成后{v['loan_days']}日内办理报销冲账；前款未清的，不得再次借款。")
    d.ask(f"{at}，预支的备用金在事情办完以后多长时间里要冲掉？", f"{v['loan_days']}日内", loan, "paraphrase", "loan_days")
    zh_policy_oversight(a, r, _this(name))
    a.chapter("附则")
    _, contact = a.art(f"本办法由财务部负责解释，联系人：{v['contact']}，电话分机{v['ext_no']}。")
    a.art(_effective(name, year, r))
    d.ask(f"制度编号{v['ref']}的报销办法由谁负责解答？", v["contact"], contact, "identifier", "contact")
    return d


# --- 差旅 ---------------------------------------------------------------------

TRAVEL = {
    "return_days": lambda r: r.choice([5, 7, 10, 15]),
    "hotel_t1": lambda r: r.randrange(400, 701, 50),
    "hotel_other": lambda r: r.randrange(200, 381, 20),
    "meal": lambda r: r.choice([60, 80, 100, 120]),
    "flight_days": lambda r: r.choice([3, 5, 7]),
    "taxi": lambda r: r.choice([50, 60, 80, 100]),
}


def _travel_fixed(w: World) -> dict:
    return {"agency": w.rng.choice(["携程商旅", "差旅天下", "美团企业版", "国旅运通"])}


def _travel(org: Org, v: dict, year: int | None, r: random.Random) -> Doc:
    name = "差旅管理办法"
    d = Doc("zh", "policy", f"zh-travel-{org.short}", _title(org, name, year), _ext(r))
    a = Articles(d)
    ctx, at = _ctx(org, name, year), _at(org, year)
    a.chapter("总则")
    a.art("为加强公司差旅管理，规范出差审批与差旅费报销，合理控制差旅成本，制定本办法。")
    a.art("本办法所称差旅费，是指员工因公临时到常驻地以外地区出差所发生的城市间交通费、住宿费、伙食补助费和市内交通费。")
    zh_policy_duties(a, r, "财务部", _this(name))
    a.chapter("出差审批")
    a.art("出差前应通过OA系统提交出差申请，写明出差事由、地点、天数和预计费用，经部门负责人批准后方可出行。")
    _, flight = a.art(f"乘坐飞机须经审批，原则上应提前{v['flight_days']}天通过{v['agency']}预订经济舱机票，因临时任务无法提前预订的须在申请中说明原因。")
    d.ask(f"{at}，坐飞机出门办事需要多早订好票？", f"提前{v['flight_days']}天", flight, "paraphrase", "flight_days")
    a.art(r.choice([
        "乘坐火车的，员工乘坐高铁或动车二等座，部门经理及以上人员可乘坐一等座。",
        "城市间交通优先选择高铁，单程四小时以内的行程原则上不安排飞机。",
    ]))
    a.chapter("住宿与补助标准")
    a.art("住宿费在下表标准以内凭发票据实报销，超出部分由个人承担。一线城市指北京、上海、广州、深圳。")
    table = d.table(
        ["人员类别", "一线城市（元/人·晚）", "其他城市（元/人·晚）"],
        [
            ["一般员工", str(v["hotel_t1"]), str(v["hotel_other"])],
            ["部门经理", str(v["hotel_t1"] + 150), str(v["hotel_other"] + 100)],
            ["公司领导", "据实报销", str(v["hotel_other"] + 250)],
        ],
    )
    d.ask(f"{at}，普通员工去上海出差，住酒店一晚最多能报多少？", f"{v['hotel_t1']}元", d.row(table, "一般员工"), "paraphrase", "hotel_t1")
    d.ask(f"根据{ctx}，一般员工在其他城市的住宿标准是每晚多少元？", f"{v['hotel_other']}元", d.row(table, "一般员工"), "numeric", "hotel_other")
    _, meal = a.art(f"伙食补助实行定额包干，标准为每人每天{money_zh(v['meal'])}，按出差自然天数计算。")
    _, taxi = a.art(f"市内交通费按每人每天{money_zh(v['taxi'])}包干使用，不再另行报销出租车费用。")
    d.ask(f"{at}出差的话，一天的饭钱补多少？", money_zh(v["meal"]), meal, "paraphrase", "meal")
    d.ask(f"{at}，到了外地在当地打车的钱怎么算？", f"每天{money_zh(v['taxi'])}包干", taxi, "paraphrase", "taxi")
    a.chapter("报销")
    _, ret = a.art(f"出差人员应在返回后{v['return_days']}个工作日内办理差旅费报销手续，并附出差申请单、交通票据和住宿发票。")
    d.ask(f"{at}，出差回来以后，出差的费用要在几天之内报掉？", f"{v['return_days']}个工作日内", ret, "paraphrase", "return_days")
    d.ask(f"{ctx}规定差旅费须在返回后多少个工作日内报销？", f"{v['return_days']}个工作日", ret, "numeric", "return_days")
    zh_policy_oversight(a, r, _this(name))
    a.chapter("附则")
    a.art("本办法由财务部负责解释。")
    a.art(_effective(name, year, r))
    return d


# --- 休假 ---------------------------------------------------------------------

LEAVE = {
    "extra_days": lambda r: r.choice([1, 2, 3, 5]),
    "carry_month": lambda r: r.choice([3, 4, 6]),
    "marriage": lambda r: r.choice([10, 13, 15]),
    "paternity": lambda r: r.choice([10, 15, 20, 30]),
    "sick_doc": lambda r: r.choice([2, 3, 5]),
    "bereavement": lambda r: r.choice([3, 5]),
}


def _leave_fixed(w: World) -> dict:
    return {"hr": w.person_zh()}


def _leave(org: Org, v: dict, year: int | None, r: random.Random) -> Doc:
    name = "员工休假管理制度"
    d = Doc("zh", "policy", f"zh-leave-{org.short}", _title(org, name, year), _ext(r))
    a = Articles(d)
    ctx, at = _ctx(org, name, year), _at(org, year)
    a.chapter("总则")
    a.art("为保障员工休息休假的权利，规范请休假管理，根据《职工带薪年休假条例》等法律法规，结合公司实际，制定本制度。")
    a.art("本制度适用于与公司签订劳动合同的全体员工。")
    zh_policy_duties(a, r, "人力资源部", _this(name))
    a.chapter("年休假")
    a.art("员工累计工作已满1年不满10年的，年休假5天；已满10年不满20年的，年休假10天；已满20年的，年休假15天。")
    _, extra = a.art(f"在法定年休假的基础上，公司每年另给予在本公司连续工作满一年的员工{v['extra_days']}天福利年假。")
    _, carry = a.art(f"当年未休完的年休假可顺延至次年{v['carry_month']}月底前休完，逾期未休的视为自动放弃。")
    d.ask(f"{at}，除了国家规定的年假，公司还额外多给几天？", f"{v['extra_days']}天福利年假", extra, "paraphrase", "extra_days")
    d.ask(f"{at}，今年的年假没休完，最晚可以拖到什么时候用？", f"次年{v['carry_month']}月底前", carry, "paraphrase", "carry_month")
    a.chapter("病假")
    _, sick = a.art(f"员工因病请假连续{v['sick_doc']}日以上的，须提供二级及以上医院出具的诊断证明。")
    d.ask(f"根据{ctx}，病假连续几日以上需要提供医院诊断证明？", f"{v['sick_doc']}日以上", sick, "numeric", "sick_doc")
    a.art(r.choice([
        "病假期间的工资按照国家和本市有关规定执行，且不低于当地最低工资标准的百分之八十。",
        "员工病假期间，公司按其本人基本工资的百分之八十发放病假工资。",
    ]))
    a.chapter("婚假、产假与陪产假")
    _, marriage = a.art(f"员工依法登记结婚的，可享受婚假{v['marriage']}天，婚假应在领取结婚证之日起一年内一次性休完。")
    a.art("女员工生育的，按照国家和地方规定享受产假，难产或者多胞胎生育的，依法增加产假天数。")
    _, pat = a.art(f"男员工在配偶生育期间，可享受陪产假{v['paternity']}天。")
    _, bere = a.art(f"员工的直系亲属去世的，可享受丧假{v['bereavement']}天。")
    d.ask(f"{at}，领证结婚可以放几天假？", f"{v['marriage']}天", marriage, "paraphrase", "marriage")
    d.ask(f"{at}，老婆生孩子，男同事能休几天？", f"{v['paternity']}天陪产假", pat, "paraphrase", "paternity")
    d.ask(f"{at}，家里父母过世了可以请几天假？", f"{v['bereavement']}天丧假", bere, "paraphrase", "bereavement")
    zh_policy_oversight(a, r, _this(name))
    a.chapter("请假程序")
    a.art("请假三天以内的，由部门负责人审批；三天以上的，还须报分管领导审批，并报人力资源部备案。")
    a.art(f"本制度由人力资源部负责解释，咨询人：{v['hr']}。")
    a.art(_effective(name, year, r).replace("本办法", "本制度"))
    return d


# --- 信息安全 -----------------------------------------------------------------

SECURITY = {
    "pwd_len": lambda r: r.choice([8, 10, 12]),
    "pwd_days": lambda r: r.choice([60, 90, 180]),
    "lockout": lambda r: r.choice([3, 5, 6, 10]),
    "screen_min": lambda r: r.choice([3, 5, 10, 15]),
    "incident_hours": lambda r: r.choice([1, 2, 4, 12]),
}


def _security_fixed(w: World) -> dict:
    return {"hotline": w.phone_ext(), "ref": w.code("XX-AQ-###")}


def _security(org: Org, v: dict, year: int | None, r: random.Random) -> Doc:
    name = "信息安全管理规定"
    d = Doc("zh", "policy", f"zh-security-{org.short}", _title(org, name, year), _ext(r))
    a = Articles(d)
    ctx, at = _ctx(org, name, year), _at(org, year)
    a.chapter("总则")
    a.art(f"为保护公司信息资产安全，防范数据泄露和网络攻击，制定本规定。文件编号：{v['ref']}。")
    a.art("本规定适用于使用公司信息系统、终端设备和网络的全体员工及外包人员。")
    zh_policy_duties(a, r, "信息技术部", _this(name))
    a.chapter("账号与口令")
    _, pwd = a.art(f"系统登录口令长度不得少于{v['pwd_len']}位，须同时包含大小写字母、数字和特殊字符。")
    _, rot = a.art(f"口令每{v['pwd_days']}天至少更换一次，新口令不得与最近三次使用过的口令相同。")
    _, lock = a.art(f"连续输错口令{v['lockout']}次的，账号自动锁定三十分钟。")
    d.ask(f"{at}，电脑开机密码至少要设几位？", f"{v['pwd_len']}位", pwd, "paraphrase", "pwd_len")
    d.ask(f"{at}，登录密码隔多久必须改一次？", f"每{v['pwd_days']}天", rot, "paraphrase", "pwd_days")
    d.ask(f"根据{ctx}，连续输错口令几次账号会被锁定？", f"{v['lockout']}次", lock, "numeric", "lockout")
    a.chapter("终端与数据")
    _, screen = a.art(f"员工离开工位时应手动锁屏，终端无操作{v['screen_min']}分钟后自动进入锁屏状态。")
    d.ask(f"{at}，人走开以后电脑多久就自己黑屏上锁？", f"{v['screen_min']}分钟", screen, "paraphrase", "screen_min")
    a.art(r.choice([
        "禁止使用未经登记的移动存储介质拷贝公司数据，确需使用的，应向信息技术部申领加密U盘。",
        "公司终端一律禁用USB存储接口，确因工作需要导出数据的，须经部门负责人审批后由信息技术部办理。",
    ]))
    a.art("向公司外部发送含有客户信息或者内部资料的文件，应当加密传输，并抄送部门负责人。")
    a.chapter("安全事件报告")
    _, inc = a.art(f"发现信息安全事件（包括误点钓鱼邮件链接、账号异常登录、设备丢失）的，应在{v['incident_hours']}小时内报告信息技术部，服务热线分机{v['hotline']}。")
    d.ask(f"{at}，不小心点开了可疑邮件里的链接，最迟多长时间内要告诉IT？", f"{v['incident_hours']}小时内", inc, "paraphrase", "incident_hours")
    a.art("对及时报告的员工，公司不因其报告行为追究责任；对隐瞒不报造成损失的，依照公司奖惩制度处理。")
    zh_policy_oversight(a, r, _this(name))
    a.chapter("附则")
    a.art("本规定由信息技术部负责解释。")
    a.art(_effective(name, year, r).replace("本办法", "本规定"))
    return d


# --- 资料保存 -----------------------------------------------------------------

RETENTION = {
    "cctv": lambda r: r.choice([30, 60, 90]),
    "resume": lambda r: r.choice([3, 6, 12]),
    "visitors": lambda r: r.choice([6, 12, 24]),
    "contract_years": lambda r: r.choice([5, 8, 10]),
    "mailbox": lambda r: r.choice([1, 3, 6]),
}


def _retention_fixed(w: World) -> dict:
    return {"archivist": w.person_zh()}


def _retention(org: Org, v: dict, year: int | None, r: random.Random) -> Doc:
    name = "资料与档案保存管理办法"
    d = Doc("zh", "policy", f"zh-retention-{org.short}", _title(org, name, year), r.choice(["md", "txt"]))
    a = Articles(d)
    ctx, at = _ctx(org, name, year), _at(org, year)
    a.chapter("总则")
    a.art("为规范公司各类资料和档案的保存与销毁，确保资料在法定期限内完整可查，同时防止个人信息被超期保存，制定本办法。")
    a.art("会计档案的保管期限按照《会计档案管理办法》执行，本办法另有规定的除外。")
    zh_policy_duties(a, r, "行政部", _this(name))
    a.chapter("保存期限")
    a.art("公司各类资料的保存期限如下表所示，期限自资料形成的次年一月一日起计算。")
    table = d.table(
        ["资料类别", "保存期限", "责任部门"],
        [
            ["视频监控录像", f"{v['cctv']}日", "行政部"],
            ["未录用应聘人员简历", f"{v['resume']}个月", "人力资源部"],
            ["访客登记记录", f"{v['visitors']}个月", "行政部"],
            ["已履行完毕的合同", f"合同期满后{v['contract_years']}年", "法务部"],
            ["离职人员电子邮箱", f"离职后{v['mailbox']}个月", "信息技术部"],
            ["员工人事档案", "离职后30年", "人力资源部"],
        ],
    )
    d.ask(f"{at}，摄像头拍下来的画面会保留多长时间？", f"{v['cctv']}日", d.row(table, "视频监控录像"), "paraphrase", "cctv")
    d.ask(f"{at}，面试没通过的人，简历会留多久？", f"{v['resume']}个月", d.row(table, "未录用应聘人员简历"), "paraphrase", "resume")
    d.ask(f"根据{ctx}，访客登记记录保存多久？", f"{v['visitors']}个月", d.row(table, "访客登记记录"), "numeric", "visitors")
    d.ask(f"根据{ctx}，已履行完毕的合同要保存几年？", f"合同期满后{v['contract_years']}年", d.row(table, "已履行完毕的合同"), "numeric", "contract_years")
    d.ask(f"{at}，同事辞职走了以后，他的公司邮箱多久会被注销？", f"离职后{v['mailbox']}个月", d.row(table, "离职人员电子邮箱"), "paraphrase", "mailbox")
    a.chapter("销毁")
    a.art("保存期满的纸质资料，由责任部门编制销毁清册，经分管领导批准后，由两名以上工作人员监督销毁。")
    a.art("电子资料应从业务系统和备份介质中彻底删除，删除记录保存三年。")
    zh_policy_oversight(a, r, _this(name))
    a.chapter("附则")
    _, who = a.art(f"因诉讼、仲裁或者监管调查需要暂停销毁的，由档案管理员{v['archivist']}通知相关部门冻结有关资料。")
    d.ask(f"{at}，公司要打官司时，谁负责通知各部门先别销毁相关资料？", v["archivist"], who, "paraphrase", "archivist")
    a.art(_effective(name, year, r))
    return d


KINDS = [
    PolicyKind("expense", EXPENSE, _expense_fixed, _expense),
    PolicyKind("travel", TRAVEL, _travel_fixed, _travel),
    PolicyKind("leave", LEAVE, _leave_fixed, _leave),
    PolicyKind("security", SECURITY, _security_fixed, _security),
    PolicyKind("retention", RETENTION, _retention_fixed, _retention),
]


def build(w: World) -> list[Doc]:
    return policy_docs(w, "zh", ZH_ORGS, KINDS)

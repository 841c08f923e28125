""""Quick answers" pages, one per organisation: the everyday questions about
expenses, travel, leave, IT security and records, worded the way people ask
them, answered by pointing at the policy without giving its figures. They
read like the paraphrased questions and hold none of their answers, so they
are the decoys for every question about that organisation's policies."""

from __future__ import annotations

from .doc import Doc
from .world import EN_ORGS, ZH_ORGS, World

EN_DECOYS = [
    ("How long after paying for something for work can I still get my money back?",
     "Claims have to be made within the deadline set in the Expenses Policy. Late claims are only paid if the Financial Controller agrees, so submit them as soon as you can."),
    ("Do I need to keep the receipt, or is a photo enough?",
     "That depends on the amount and on the current edition of the Expenses Policy, which sets out which receipts are needed and in what form."),
    ("How much can I spend when I take a customer out for dinner?",
     "There is a per-head limit for client entertainment in the Expenses Policy. Anything above it needs a director's approval before the event."),
    ("How far ahead do I have to book a business trip?",
     "Book as early as you can through the travel management company; the minimum notice is in the Business Travel Policy."),
    ("If I drive my own car to see a customer, what do I get paid?",
     "Business mileage in your own vehicle is paid at the rate per mile in the Business Travel Policy. Commuting does not count."),
    ("If I don't use all my holiday this year, can I keep some for next year?",
     "A limited number of days can be carried forward. The Leave Policy gives the current limit and the date by which they must be used."),
    ("How long can I be off sick before I need a note from my doctor?",
     "Short absences can be self-certified; the Leave Policy says for how many days."),
    ("How soon do I have to report it if I clicked a suspicious link in an email?",
     "Straight away. Call the service desk; the Information Security Policy sets the latest time for reporting."),
    ("After how long does my laptop lock itself?",
     "Screens lock automatically after a set period without input, as laid down in the Information Security Policy."),
    ("How long are security camera recordings and job applications kept?",
     "Every type of record has a retention period in the Records Retention Policy. When it runs out, the record is deleted."),
]

ZH_DECOYS = [
    ("自己先垫付的钱，最晚多久要交单报销？", "报销时限以《费用报销管理办法》为准，逾期的须经财务总监批准。请尽早提交，以免影响到账时间。"),
    ("花多少钱以上就得开专票？电子发票要不要打出来？", "发票要求以现行《费用报销管理办法》为准，不同版本的规定可能不同，请在OA“制度查询”中查看现行有效版本。"),
    ("请客户吃饭，一个人最多能花多少？", "业务招待实行标准控制，事先填写申请单，具体标准见《费用报销管理办法》，超标部分由个人承担。"),
    ("出差回来以后，出差的费用要在几天之内报掉？", "差旅费报销时限见《差旅管理办法》，逾期未报的须说明原因并经批准。"),
    ("出差一天的饭钱和打车钱怎么补？", "伙食补助和市内交通费实行定额包干，具体标准见《差旅管理办法》。"),
    ("今年的年假没休完，能不能留到明年用？", "可以在规定期限内顺延，截止时间见《员工休假管理制度》，逾期视为自动放弃。"),
    ("老婆生孩子，男员工可以休几天？结婚能请几天假？", "陪产假和婚假的天数按《员工休假管理制度》及当地规定执行，请提前在OA系统提交申请。"),
    ("电脑密码至少要设几位？多久必须改一次？", "口令的长度、复杂度和更换周期须符合《信息安全管理规定》，系统在设置时会自动校验。"),
    ("不小心点开了可疑邮件里的链接怎么办？", "立即断开网络并报告信息技术部，报告时限见《信息安全管理规定》，及时报告的不追究责任。"),
    ("摄像头拍的画面和面试没通过的人的简历会留多久？", "各类资料的保存期限见《资料与档案保存管理办法》，到期后按规定销毁。"),
]


def _page(w: World, lang: str, org) -> Doc:
    r = w.sub(f"quick-{org.short}")
    zh = lang == "zh"
    title = f"{org.short}员工自助问答：报销、差旅、休假与信息安全" if zh else f"{org.short} Quick Answers: Expenses, Travel, Leave and IT"
    d = Doc(lang, "faq", f"{lang}-quick-{org.short}", title, r.choice(["html", "md"]))
    ext, room = w.phone_ext(), r.choice(["B201", "C305", "A118", "D402"])
    if zh:
        d.p(f"本页汇总了员工最常问的问题，答案均以公司现行制度为准。财务共享服务中心电话：分机{ext}；纸质单据请投递至{room}室财务收件箱。")
    else:
        d.p(f"The questions people ask Finance and HR most often. The policies always take precedence over this page. "
            f"The finance helpline is extension {ext}; paper receipts go to the finance post box in room {room}.")
    intro = d.blocks[-1].text
    for q, a in r.sample(ZH_DECOYS if zh else EN_DECOYS, r.randint(7, 10)):
        d.h(q, 3)
        d.p(a)
    if zh:
        d.ask(f"{org.short}财务共享服务中心的电话是多少？", f"分机{ext}", intro, "numeric")
        d.ask(f"{org.short}的纸质报销单据要送到哪里？", f"{room}室财务收件箱", intro, "paraphrase")
    else:
        d.ask(f"What is the phone extension of the finance helpline at {org.short}?", ext, intro, "numeric")
        d.ask(f"Where do I drop off paper receipts at {org.short}?", f"the finance post box in room {room}", intro, "paraphrase")
    return d


def build(w: World) -> list[Doc]:
    return [_page(w, "en", org) for org in EN_ORGS] + [_page(w, "zh", org) for org in ZH_ORGS]

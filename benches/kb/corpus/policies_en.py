"""English policies: expenses, business travel, leave, IT security and
records retention, one of each per organisation."""

from __future__ import annotations

import datetime
import random

from .boilerplate import en_policy_tail
from .doc import Doc
from .editions import PolicyKind, policy_docs
from .world import EN_ABROAD, EN_ORGS, Org, World, en_date, money_en


def _start(org: Org, year: int | None, r: random.Random) -> tuple[str, str]:
    """The title suffix and the sentence saying when the policy applies."""
    if year is None:
        y = r.choice([2022, 2023, 2024])
        when = en_date(datetime.date(y, r.randint(1, 12), 1))
        return "", f"It has applied since {when} and is reviewed every two years."
    when = en_date(datetime.date(year, r.choice([1, 4]), 1))
    suffix = f" ({year} edition)"
    if year == 2024:
        return suffix, f"This edition takes effect on {when} and replaces the 2023 edition in full."
    return suffix, f"This edition takes effect on {when}."


def _ctx(org: Org, what: str, year: int | None) -> str:
    return f"{org.short}'s {what}" if year is None else f"the {year} edition of {org.short}'s {what}"


def _when(org: Org, year: int | None) -> str:
    return f"at {org.short}" if year is None else f"at {org.short} under the {year} rules"


def _ext(r: random.Random) -> str:
    return r.choice(["md", "md", "txt", "html"])


# --- expenses ---------------------------------------------------------------

def _expense_fixed(w: World) -> dict:
    return {"owner": w.person_en(), "ref": w.code("FIN-POL-##"), "ext_no": w.phone_ext()}


EXPENSE = {
    "claim_days": lambda r: r.choice([30, 45, 60, 90]),
    "receipt_min": lambda r: r.choice([10, 15, 20, 25, 30]),
    "ent_cap": lambda r: r.randrange(35, 85, 5),
    "head_limit": lambda r: r.randrange(1000, 3001, 250),
    "photo_receipts": lambda r: r.choice([True, False]),
}


def _expense(org: Org, v: dict, year: int | None, r: random.Random) -> Doc:
    suffix, start = _start(org, year, r)
    d = Doc("en", "policy", f"en-expense-{org.short}", f"{org.name} Expenses Policy{suffix}", _ext(r))
    system = r.choice(["ExpenseHub", "Concur", "Claimly", "the Finance portal"])
    ctx, at = _ctx(org, "expenses policy", year), _when(org, year)
    d.h("1. Purpose and scope")
    d.p(
        f"This policy explains how people who work for {org.name} are repaid for money they spend on the company's behalf.",
        "It applies to all permanent and fixed-term employees, to contractors engaged for more than three months and to members of the board.",
        f"Policy reference: {v['ref']}. The policy is owned by the Finance department.",
        start,
    )
    d.h("2. General principles")
    d.items([
        "Spend the company's money as carefully as you would your own.",
        "Claim only costs that were necessary for your work and that you actually paid yourself.",
        "Where a cheaper option gives the same result, choose it.",
        "Never approve your own claim or a claim that benefits you.",
        r.choice([
            "Claims that breach this policy may be refused and repeated breaches are handled under the disciplinary procedure.",
            "Misleading or inflated claims are treated as gross misconduct.",
        ]),
    ])
    d.h("3. Submitting a claim")
    deadline = d.p(
        f"Claims must be submitted through {system} within {v['claim_days']} days of the date the cost was incurred.",
        "Late claims are only paid with the written agreement of the Financial Controller.",
    )
    receipt = (
        f"An itemised receipt is required for every item of {money_en(v['receipt_min'])} or more."
    )
    photo = (
        f"Photographs of receipts taken with the {system} mobile app are accepted in place of paper originals."
        if v["photo_receipts"]
        else "Paper originals of receipts must be sent to the Finance team; scanned copies and photographs are not accepted."
    )
    d.p(receipt, "Below that amount a short description of the purchase is enough.", photo,
        "If a receipt is lost, complete a missing receipt declaration and have it countersigned by your manager.")
    d.ask(f"Within how many days must an expense claim be submitted under {ctx}?",
          f"{v['claim_days']} days", deadline, "numeric", "claim_days")
    d.ask(f"How long after paying for something for work can I still get my money back {at}?",
          f"{v['claim_days']} days", deadline, "paraphrase", "claim_days")
    d.ask(f"From what amount do I have to provide proof of purchase when I want a work cost refunded {at}?",
          money_en(v["receipt_min"]), receipt, "paraphrase", "receipt_min")
    d.ask(f"Can I just snap a picture of the till slip with my phone instead of handing in the paper one {at}?",
          "yes" if v["photo_receipts"] else "no", photo, "paraphrase", "photo_receipts")
    d.h("4. Meals and client entertainment")
    ent = f"Client entertainment is limited to {money_en(v['ent_cap'])} per attendee, including drinks and service."
    d.p(
        "Business meals are reimbursed when they are held mainly to discuss work with customers, suppliers or partners.",
        ent,
        "The claim must list the names and organisations of everyone present.",
        r.choice([
            "Alcohol may not make up more than a third of the bill.",
            "Alcohol is not reimbursed unless a customer is present.",
        ]),
    )
    d.ask(f"How much may I spend per head when I take a customer out to dinner {at}?",
          money_en(v["ent_cap"]), ent, "paraphrase", "ent_cap")
    d.p("Meals taken with colleagues only are not reimbursed, except during approved overnight travel, which is covered by the travel policy.")
    d.h("5. Approval limits")
    table = d.table(
        ["Approver", "Limit for a single claim", "Notes"],
        [
            ["Line manager", money_en(v["head_limit"] // 4), "Routine claims from direct reports"],
            ["Head of department", money_en(v["head_limit"]), "Claims above the line manager's limit"],
            ["Director", money_en(v["head_limit"] * 5), "Includes all claims for client entertainment"],
            ["Chief Financial Officer", "No limit", "Claims from directors and board members"],
        ],
    )
    d.ask(f"Up to what amount can a head of department approve a single claim under {ctx}?",
          money_en(v["head_limit"]), d.row(table, "Head of department"), "numeric", "head_limit")
    d.h("6. Costs that are never reimbursed")
    d.items([
        "Personal clothing, toiletries and grooming.",
        "Fines for parking or driving offences.",
        "Upgrades to travel or accommodation that were not approved in advance.",
        "Gifts to colleagues, including leaving presents.",
        "Interest or charges on personal credit cards.",
    ])
    d.h("7. Payment and contacts")
    contact = (
        f"Questions about this policy go to {v['owner']}, Finance Business Partner, on extension {v['ext_no']}."
    )
    d.p(
        r.choice([
            "Approved claims are paid with the next monthly payroll run.",
            "Approved claims are paid by bank transfer within ten working days.",
        ]),
        contact,
    )
    d.ask(f"Who should I contact about expenses policy {v['ref']}?", v["owner"], contact, "identifier", "owner")
    en_policy_tail(d, r, "Finance", year)
    return d


# --- travel -------------------------------------------------------------------

def _travel_fixed(w: World) -> dict:
    r = w.rng
    return {
        "insurer": r.choice(["Aviva", "AXA", "Zurich", "Allianz", "Chubb"]),
        "insurance_no": w.code("BTI-####-@@"),
        "agency": r.choice(["Clarity Travel", "Reed and Mackay", "CTM", "Inspire Travel"]),
        "abroad": r.choice(EN_ABROAD),
    }


TRAVEL = {
    "advance_days": lambda r: r.choice([7, 10, 14, 21]),
    "flight_hours": lambda r: r.choice([5, 6, 7, 8]),
    "hotel_london": lambda r: r.randrange(150, 231, 10),
    "hotel_uk": lambda r: r.randrange(90, 141, 5),
    "hotel_abroad": lambda r: r.randrange(160, 281, 20),
    "mileage": lambda r: r.choice([0.35, 0.40, 0.45, 0.50]),
    "per_diem": lambda r: r.randrange(50, 96, 5),
}


def _travel(org: Org, v: dict, year: int | None, r: random.Random) -> Doc:
    suffix, start = _start(org, year, r)
    d = Doc("en", "policy", f"en-travel-{org.short}", f"{org.name} Business Travel Policy{suffix}", _ext(r))
    ctx, at = _ctx(org, "business travel policy", year), _when(org, year)
    d.h("Introduction")
    d.p(
        f"{org.name} expects its people to travel only when a meeting cannot reasonably be held by video call.",
        "When travel is necessary, it should be safe, comfortable enough to arrive ready to work, and good value.",
        start,
    )
    d.h("Booking")
    book = d.p(
        f"All flights, rail tickets and hotels must be booked through {v['agency']}, the company's travel management company, at least {v['advance_days']} days before departure.",
        "Bookings made later need the approval of your head of department.",
    )
    d.ask(f"How far in advance do business trips have to be arranged {at}?",
          f"at least {v['advance_days']} days before departure", book, "paraphrase", "advance_days")
    d.h("Air and rail travel")
    air = (
        f"Premium economy may be booked for flights with a scheduled duration of more than {v['flight_hours']} hours."
    )
    d.p("Economy class is the standard for all flights.", air,
        "Business class is allowed only for directors and only with the approval of the Chief Executive.")
    d.p(r.choice([
        "Rail travel is in standard class. First class may be used when the journey lasts more than three hours and the traveller needs to work on the way.",
        "Rail travel is in standard class; advance and off-peak fares should be used wherever the timing of the meeting allows.",
    ]))
    d.ask(f"When is someone {at} allowed to fly in a better cabin than the cheapest one?",
          f"flights longer than {v['flight_hours']} hours (premium economy)", air, "paraphrase", "flight_hours")
    d.h("Accommodation")
    d.p("Hotels are booked for the nights that the business purpose requires. The following limits apply per room per night, including breakfast and local taxes.")
    table = d.table(
        ["Location", "Maximum per night"],
        [
            ["London", money_en(v["hotel_london"])],
            ["Other UK cities", money_en(v["hotel_uk"])],
            [v["abroad"], money_en(v["hotel_abroad"])],
            ["Elsewhere abroad", "As agreed with the travel management company"],
        ],
    )
    d.ask(f"What is the maximum nightly hotel rate for London under {ctx}?",
          money_en(v["hotel_london"]), d.row(table, "London"), "numeric", "hotel_london")
    d.ask(f"How much can a room cost per night on a work trip to Glasgow or Cardiff {at}?",
          money_en(v["hotel_uk"]), d.row(table, "Other UK cities"), "paraphrase", "hotel_uk")
    d.ask(f"What is the hotel cap per night in {v['abroad']} under {ctx}?",
          money_en(v["hotel_abroad"]), d.row(table, v["abroad"]), "numeric", "hotel_abroad")
    d.h("Daily allowance and mileage")
    diem = (
        f"A daily subsistence allowance of {money_en(v['per_diem'])} applies to travel outside the United Kingdom and covers meals, drinks and tips."
    )
    miles = f"Staff who use a private vehicle for business journeys are reimbursed at {money_en(v['mileage'])} per mile."
    d.p(diem, "Within the United Kingdom, actual meal costs are reimbursed under the expenses policy.")
    d.p(miles, "Ordinary commuting between home and your usual workplace is not business mileage.",
        "Drivers must hold business-use insurance and keep their vehicle roadworthy.")
    d.ask(f"How much do I get per day for food on a trip overseas {at}?",
          money_en(v["per_diem"]), diem, "paraphrase", "per_diem")
    d.ask(f"If I drive my own car to visit a customer, what does {org.short} pay me for each mile{'' if year is None else f' in {year}'}?",
          money_en(v["mileage"]), miles, "paraphrase", "mileage")
    d.h("Insurance and emergencies")
    ins = (
        f"All business trips are covered by the company's travel insurance with {v['insurer']}, policy number {v['insurance_no']}."
    )
    d.p(ins, "Keep the policy number with you when you travel and call the insurer's 24-hour assistance line if you fall ill, are injured or are caught up in a security incident abroad.")
    d.ask(f"Which insurer issued travel insurance policy {v['insurance_no']}?", v["insurer"], ins, "identifier", "insurance_no")
    en_policy_tail(d, r, "Finance", year)
    return d


# --- leave --------------------------------------------------------------------

def _leave_fixed(w: World) -> dict:
    return {"hr_system": w.rng.choice(["PeopleHub", "Workday", "BreatheHR", "the HR portal"]), "contact": w.person_en()}


LEAVE = {
    "base_days": lambda r: r.randint(23, 28),
    "carry_days": lambda r: r.randint(3, 10),
    "self_cert": lambda r: r.choice([3, 5, 7]),
    "paternity_weeks": lambda r: r.choice([2, 3, 4, 6]),
    "volunteer_days": lambda r: r.randint(1, 4),
    "compassionate": lambda r: r.randint(3, 7),
}


def _leave(org: Org, v: dict, year: int | None, r: random.Random) -> Doc:
    suffix, start = _start(org, year, r)
    d = Doc("en", "policy", f"en-leave-{org.short}", f"{org.name} Leave Policy{suffix}", _ext(r))
    ctx, at = _ctx(org, "leave policy", year), _when(org, year)
    d.h("About this policy")
    d.p(f"This policy describes the paid and unpaid time off available to employees of {org.name}.", start,
        f"Requests are made and approved in {v['hr_system']}.")
    d.h("Annual leave")
    base = f"Full-time employees are entitled to {v['base_days']} days of annual leave per holiday year, in addition to public holidays."
    d.p(base, "Part-time employees receive the same entitlement in proportion to the hours they work.",
        "After five years of continuous service, one extra day is added for each further year, up to a maximum of five extra days.")
    carry = (
        f"Up to {v['carry_days']} days of unused annual leave may be carried forward into the next holiday year and must be taken by 31 March."
    )
    d.p(carry, "Leave beyond that is lost unless it could not be taken because of sickness or parental leave.")
    d.ask(f"How many days of annual leave does a full-time employee get under {ctx}?",
          f"{v['base_days']} days", base, "numeric", "base_days")
    d.ask(f"If I don't use all my holiday this year {at}, how much of it can I keep for next year?",
          f"{v['carry_days']} days", carry, "paraphrase", "carry_days")
    d.h("Sickness absence")
    cert = f"For absences of up to {v['self_cert']} calendar days you may self-certify in {v['hr_system']}; longer absences need a fit note from a doctor."
    d.p("If you are too ill to work, tell your manager before your usual start time on the first day.", cert,
        r.choice([
            "Company sick pay is paid at full salary for up to twelve weeks in any rolling twelve-month period.",
            "Company sick pay is paid at full salary for up to eight weeks in any rolling twelve-month period.",
        ]))
    d.ask(f"How long can I be off ill {at} before I need a note from my GP?",
          f"more than {v['self_cert']} days", cert, "paraphrase", "self_cert")
    d.h("Family leave")
    pat = f"Partners of a new mother, or of a parent adopting a child, may take {v['paternity_weeks']} weeks of paternity leave at full pay within eight weeks of the birth or placement."
    d.p("Maternity and adoption leave follow the statutory scheme, with the first sixteen weeks paid at full salary.", pat)
    d.ask(f"How much time off on full pay does a new father get {at}?",
          f"{v['paternity_weeks']} weeks", pat, "paraphrase", "paternity_weeks")
    d.h("Other leave")
    comp = f"Compassionate leave of up to {v['compassionate']} days on full pay is granted on the death of a close family member."
    vol = f"Each employee may take {v['volunteer_days']} paid volunteering days a year to support a registered charity."
    d.items([
        comp,
        vol,
        "Jury service is paid at full salary; any loss-of-earnings allowance from the court is repaid to the company.",
        "Time off for medical appointments should be arranged outside core hours where possible.",
    ])
    d.ask(f"When a close relative dies, how many days off on pay are given {at}?",
          f"up to {v['compassionate']} days", comp, "paraphrase", "compassionate")
    d.ask(f"How many paid charity volunteering days are allowed per year under {ctx}?",
          f"{v['volunteer_days']} days", vol, "numeric", "volunteer_days")
    d.h("Contact")
    d.p(f"For questions about leave, contact {v['contact']} in Human Resources.")
    en_policy_tail(d, r, "Human Resources", year)
    return d


# --- IT security ----------------------------------------------------------------

def _security_fixed(w: World) -> dict:
    return {"vpn": w.rng.choice(["GlobalProtect", "FortiClient", "Cisco AnyConnect", "WireGuard"]),
            "helpdesk": w.phone_ext(), "ciso": w.person_en(), "ref": w.code("ISP-###")}


SECURITY = {
    "pwd_len": lambda r: r.choice([10, 12, 14, 15, 16]),
    "lockout": lambda r: r.choice([5, 6, 8, 10]),
    "screen_min": lambda r: r.choice([5, 10, 15]),
    "incident_hours": lambda r: r.choice([1, 2, 4, 24]),
    "patch_days": lambda r: r.choice([7, 14, 21, 30]),
}


def _security(org: Org, v: dict, year: int | None, r: random.Random) -> Doc:
    suffix, start = _start(org, year, r)
    d = Doc("en", "policy", f"en-security-{org.short}", f"{org.name} Information Security Policy{suffix}", _ext(r))
    ctx, at = _ctx(org, "information security policy", year), _when(org, year)
    d.h("Purpose")
    d.p(f"This policy ({v['ref']}) protects the information that {org.name} holds about its customers, staff and operations.",
        f"It is issued by {v['ciso']}, Head of Information Security.", start)
    d.h("Passwords and accounts")
    pwd = f"Passwords must be at least {v['pwd_len']} characters long and must not be reused across systems."
    lock = f"An account is locked for thirty minutes after {v['lockout']} failed sign-in attempts."
    d.p(pwd, "Multi-factor authentication is mandatory for email, remote access and every system that holds personal data.", lock)
    d.ask(f"What is the minimum password length under {ctx}?", f"{v['pwd_len']} characters", pwd, "numeric", "pwd_len")
    d.ask(f"How many times can I type the wrong password {at} before I'm shut out?",
          f"{v['lockout']} failed attempts", lock, "paraphrase", "lockout")
    d.h("Devices")
    screen = f"Laptops and desktops lock automatically after {v['screen_min']} minutes without input."
    patch = f"Security updates must be installed within {v['patch_days']} days of release; devices that fall behind are blocked from the network."
    d.items([
        "All laptops use full-disk encryption, configured by IT Services before issue.",
        screen,
        patch,
        "USB storage devices are blocked, except encrypted drives issued by IT Services.",
        "Lost or stolen devices must be reported to the service desk immediately.",
    ])
    d.ask(f"After how long does my computer lock itself if I leave my desk {at}?",
          f"{v['screen_min']} minutes", screen, "paraphrase", "screen_min")
    d.ask(f"How quickly must security patches be applied under {ctx}?", f"within {v['patch_days']} days",
          patch, "numeric", "patch_days")
    d.h("Remote working")
    d.p(f"Company systems may only be reached from outside the office through the {v['vpn']} VPN client.",
        "Public Wi-Fi may be used only with the VPN connected. Do not let family members or friends use company devices.")
    d.h("Reporting incidents")
    incident = (
        f"Suspected security incidents, including phishing emails that were clicked, must be reported to the service desk on extension {v['helpdesk']} within {v['incident_hours']} {'hour' if v['incident_hours'] == 1 else 'hours'} of being noticed."
    )
    d.p(incident, "Reporting quickly matters more than being certain: nobody is disciplined for a report made in good faith.")
    d.ask(f"I think I clicked a dodgy link in an email {at}. How soon do I have to tell someone?",
          f"within {v['incident_hours']} hours", incident, "paraphrase", "incident_hours")
    en_policy_tail(d, r, "IT Services", year)
    return d


# --- records retention ---------------------------------------------------------

def _retention_fixed(w: World) -> dict:
    return {"dpo": w.person_en(), "shredder": w.rng.choice(["Shred-it", "Restore Datashred", "PHS Data Shredding"])}


RETENTION = {
    "invoices": lambda r: r.choice([6, 7, 8, 10]),
    "candidates": lambda r: r.choice([6, 9, 12]),
    "cctv": lambda r: r.choice([30, 31, 45, 60, 90]),
    "visitors": lambda r: r.choice([12, 18, 24]),
    "mailbox": lambda r: r.choice([3, 6, 12]),
}


def _retention(org: Org, v: dict, year: int | None, r: random.Random) -> Doc:
    suffix, start = _start(org, year, r)
    d = Doc("en", "policy", f"en-retention-{org.short}", f"{org.name} Records Retention Policy{suffix}", r.choice(["md", "txt"]))
    ctx, at = _ctx(org, "records retention policy", year), _when(org, year)
    d.h("Why we keep records, and why we delete them")
    d.p(f"{org.name} keeps records for as long as the law, our contracts or our customers reasonably require, and no longer.",
        "Keeping personal data longer than necessary breaks data protection law and increases the harm a breach could cause.", start)
    d.h("Retention schedule")
    d.p("The schedule below sets the minimum and, for personal data, the maximum period for each type of record. Periods run from the end of the financial year in which the record was created unless stated otherwise.")
    table = d.table(
        ["Record", "Retention period", "Owner"],
        [
            ["Supplier invoices and purchase orders", f"{v['invoices']} years", "Finance"],
            ["Payroll and tax records", "6 years", "Finance"],
            ["Applications from unsuccessful candidates", f"{v['candidates']} months after the decision", "Human Resources"],
            ["CCTV recordings", f"{v['cctv']} days", "Facilities"],
            ["Visitor sign-in records", f"{v['visitors']} months", "Facilities"],
            ["Mailboxes of former employees", f"{v['mailbox']} months after leaving", "IT Services"],
            ["Signed customer contracts", "6 years after expiry", "Legal"],
        ],
    )
    d.ask(f"How long does {org.short} hold on to security camera footage{'' if year is None else f' according to the {year} schedule'}?",
          f"{v['cctv']} days", d.row(table, "CCTV recordings"), "paraphrase", "cctv")
    d.ask(f"If I apply for a job {at} and am turned down, how long is my application kept?",
          f"{v['candidates']} months", d.row(table, "Applications from unsuccessful candidates"), "paraphrase", "candidates")
    d.ask(f"What is the retention period for supplier invoices under {ctx}?", f"{v['invoices']} years",
          d.row(table, "Supplier invoices and purchase orders"), "numeric", "invoices")
    d.ask(f"How long are visitor sign-in records kept under {ctx}?", f"{v['visitors']} months",
          d.row(table, "Visitor sign-in records"), "numeric", "visitors")
    d.ask(f"Once a colleague has left {org.short}, how long before their email account is wiped{'' if year is None else f' ({year} rules)'}?",
          f"{v['mailbox']} months", d.row(table, "Mailboxes of former employees"), "paraphrase", "mailbox")
    d.h("Disposal")
    d.p(f"Paper records are destroyed by cross-cut shredding or through {v['shredder']}, who issue a certificate of destruction for each collection.",
        "Electronic records are deleted from live systems and fall out of backups within ninety days.")
    d.h("Legal holds")
    hold = f"When litigation or an investigation is expected, the Data Protection Officer, {v['dpo']}, may suspend deletion of the records concerned by issuing a legal hold."
    d.p(hold, "Records under a legal hold must not be destroyed until the hold is lifted in writing.")
    d.ask(f"Who at {org.short} can stop records from being destroyed because a lawsuit is coming?", v["dpo"], hold, "paraphrase", "dpo")
    en_policy_tail(d, r, "Legal", year)
    return d


KINDS = [
    PolicyKind("expense", EXPENSE, _expense_fixed, _expense),
    PolicyKind("travel", TRAVEL, _travel_fixed, _travel),
    PolicyKind("leave", LEAVE, _leave_fixed, _leave),
    PolicyKind("security", SECURITY, _security_fixed, _security),
    PolicyKind("retention", RETENTION, _retention_fixed, _retention),
]


def build(w: World) -> list[Doc]:
    return policy_docs(w, "en", EN_ORGS, KINDS)

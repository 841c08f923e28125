"""Knowledge bases through the real binary with the official SDK: files,
vector stores, `file_batches.upload_and_poll`, `vector_stores.search`
(keyword, vector and hybrid, on English and Chinese text), per-store default
deny, per-document `allowed_roles` for every role in a matrix, deletion
removing chunks from both indexes, corrupt and unsupported files failing
cleanly without stopping a batch, and hostile uploads refused in OpenAI's
error shape."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Iterator

import httpx
import openai
import pytest

from documents import cjk_pdf, xlsx
from support import MoatServer, error_of, smol_gguf
from test_embeddings import minilm_gguf

ROLES = """
[[roles]]
name = "hr"
models = ["*"]
knowledge_bases = ["policies"]

[[roles]]
name = "finance"
models = ["*"]
knowledge_bases = ["policies"]

[[roles]]
name = "outsider"
models = ["*"]

[[roles]]
name = "editor"
models = ["*"]
kb_write = ["team-*"]
"""

TRAVEL = """# Travel policy 2024

## Hotels

Employees travelling for work may book hotels of up to 180 euros a night in
capital cities and 120 euros elsewhere. The contract number HT-2024-5082
covers the framework agreement with the travel agency.

## Trains

Second-class tickets are the rule; first class is allowed for journeys of
more than four hours.
"""

SALARIES = """# Salary bands

The salary band for grade E37 runs from 61,000 to 74,000 euros. This table is
confidential to human resources.
"""

BUDGET = """# Budget 2025

The IT department's budget for 2025 is 2.4 million euros, of which the
equipment model KX-310A takes 300,000.
"""

CHINESE = """# 差旅费报销办法

第十七条 员工出差发生的住宿费用，在直辖市每晚不超过六百元，其他城市每晚不超过四百元。

第十八条 报销须在出差结束后十五个工作日内提交，并附发票原件。
"""


@pytest.fixture(scope="module")
def kb(tmp_path_factory) -> Iterator[MoatServer]:
    workdir = tmp_path_factory.mktemp("moat-kb")
    (workdir / "moat.toml").write_text(ROLES)
    srv = MoatServer(workdir, [smol_gguf(), minilm_gguf()], ["--config", "moat.toml", "--parallel", "2"])
    yield srv
    srv.stop()


def key(srv: MoatServer, role: str) -> str:
    return srv.moat("keys", "create", "--config", "moat.toml", "--quiet", "--name", role, "--role", role).stdout.strip()


def upload(client: openai.OpenAI, name: str, text: str | bytes):
    data = text.encode() if isinstance(text, str) else text
    return client.files.create(file=(name, io.BytesIO(data)), purpose="assistants")


@pytest.fixture(scope="module")
def store(kb: MoatServer):
    """A store named `policies` with four documents, two restricted."""
    admin = kb.client()
    vs = admin.vector_stores.create(name="policies")
    files = {
        "travel.md": (TRAVEL, None),
        "salaries.md": (SALARIES, {"allowed_roles": "hr"}),
        "budget.md": (BUDGET, {"allowed_roles": "finance, hr"}),
        "差旅.md": (CHINESE, None),
    }
    ids = {}
    for name, (text, attributes) in files.items():
        f = upload(admin, name, text)
        ids[name] = f.id
        attached = admin.vector_stores.files.create_and_poll(
            vector_store_id=vs.id, file_id=f.id, attributes=attributes or {}
        )
        assert attached.status == "completed", attached.last_error
    return vs, ids


def names(results) -> list[str]:
    return [r.filename for r in results.data]


def test_upload_and_poll_then_search_finds_the_right_file(kb: MoatServer):
    client = kb.client()
    vs = client.vector_stores.create(name="batch")
    paths = []
    for name, text in [("travel.md", TRAVEL), ("budget.md", BUDGET)]:
        p = kb.workdir / name
        p.write_text(text)
        paths.append(p)
    handles = [open(p, "rb") for p in paths]
    try:
        batch = client.vector_stores.file_batches.upload_and_poll(vector_store_id=vs.id, files=handles)
    finally:
        for h in handles:
            h.close()
    assert batch.status == "completed"
    assert batch.file_counts.completed == 2 and batch.file_counts.failed == 0
    found = client.vector_stores.search(vector_store_id=vs.id, query="How much may a hotel cost per night?")
    assert found.data, found
    assert found.data[0].filename == "travel.md"
    assert 0 < found.data[0].score <= 1
    assert "180 euros" in found.data[0].content[0].text
    assert found.search_query == ["How much may a hotel cost per night?"]


@pytest.mark.parametrize("mode", ["keyword", "vector", "hybrid"])
def test_every_mode_finds_the_english_fact(kb: MoatServer, store, mode: str):
    vs, _ = store
    found = kb.client().vector_stores.search(
        vector_store_id=vs.id, query="second class train tickets", extra_body={"moat": {"mode": mode}}
    )
    assert names(found)[0] == "travel.md", (mode, names(found))


def test_identifiers_are_found_whole(kb: MoatServer, store):
    vs, _ = store
    for query, expected in [("HT-2024-5082", "travel.md"), ("KX-310A", "budget.md")]:
        found = kb.client().vector_stores.search(
            vector_store_id=vs.id, query=query, extra_body={"moat": {"mode": "keyword"}}
        )
        assert names(found)[:1] == [expected], (query, names(found))


def test_chinese_keyword_search_works_without_spaces(kb: MoatServer, store):
    vs, _ = store
    found = kb.client().vector_stores.search(
        vector_store_id=vs.id, query="住宿费用每晚不超过多少", extra_body={"moat": {"mode": "keyword"}}
    )
    assert names(found)[:1] == ["差旅.md"], names(found)
    assert "六百元" in found.data[0].content[0].text


# ---------- access ----------

MATRIX = {
    # role: files its searches may return
    "hr": {"travel.md", "salaries.md", "budget.md", "差旅.md"},
    "finance": {"travel.md", "budget.md", "差旅.md"},
}


@pytest.mark.parametrize("role", sorted(MATRIX))
def test_a_forbidden_document_never_appears(kb: MoatServer, store, role: str):
    vs, _ = store
    client = kb.client(key(kb, role))
    seen: set[str] = set()
    for query in ["salary band grade E37", "budget KX-310A", "hotel", "住宿", "confidential human resources"]:
        for mode in ["keyword", "vector", "hybrid"]:
            found = client.vector_stores.search(
                vector_store_id=vs.id, query=query, max_num_results=50, extra_body={"moat": {"mode": mode}}
            )
            seen |= set(names(found))
            for r in found.data:
                assert r.filename in MATRIX[role], (role, query, mode, r.filename)
    assert seen == MATRIX[role]
    # Listing the store's files shows only the visible ones, too.
    listed = {f.id for f in client.vector_stores.files.list(vector_store_id=vs.id)}
    _, ids = store
    assert listed == {ids[n] for n in MATRIX[role]}


def test_a_store_not_granted_is_not_found_and_not_listed(kb: MoatServer, store):
    vs, _ = store
    outsider = kb.client(key(kb, "outsider"))
    with pytest.raises(openai.NotFoundError):
        outsider.vector_stores.retrieve(vs.id)
    with pytest.raises(openai.NotFoundError):
        outsider.vector_stores.search(vector_store_id=vs.id, query="hotel")
    assert vs.id not in {s.id for s in outsider.vector_stores.list()}
    # A granted role may read but not change it.
    hr = kb.client(key(kb, "hr"))
    assert hr.vector_stores.retrieve(vs.id).name == "policies"
    with pytest.raises(openai.PermissionDeniedError):
        hr.vector_stores.delete(vs.id)


def test_creating_and_writing_stores_needs_kb_write(kb: MoatServer, store):
    vs, _ = store
    editor = kb.client(key(kb, "editor"))
    mine = editor.vector_stores.create(name="team-docs")
    f = upload(editor, "travel.md", TRAVEL)
    assert editor.vector_stores.files.create_and_poll(vector_store_id=mine.id, file_id=f.id).status == "completed"
    assert set(names(editor.vector_stores.search(vector_store_id=mine.id, query="HT-2024-5082"))) == {"travel.md"}
    # Outside its patterns the editor can neither create nor change.
    with pytest.raises(openai.PermissionDeniedError) as err:
        editor.vector_stores.create(name="policies")
    assert "team-docs" not in err.value.message and "policies" in err.value.message
    with pytest.raises(openai.NotFoundError):
        editor.vector_stores.files.create(vector_store_id=vs.id, file_id=f.id)
    # A reader may not add to what it reads; the built-in user role may not
    # create stores or upload at all.
    hr = kb.client(key(kb, "hr"))
    with pytest.raises(openai.PermissionDeniedError):
        hr.vector_stores.files.create(vector_store_id=vs.id, file_id=f.id)
    user = kb.client(key(kb, "user"))
    with pytest.raises(openai.PermissionDeniedError) as err:
        upload(user, "note.txt", "hello")
    assert "kb_write" in err.value.message
    with pytest.raises(openai.PermissionDeniedError):
        user.vector_stores.create(name="team-x")
    # A store named by kb_write is readable and writable by the role.
    admin_made = kb.client().vector_stores.create(name="team-shared")
    assert editor.vector_stores.retrieve(admin_made.id).name == "team-shared"
    assert editor.vector_stores.update(admin_made.id, name="team-shared-2").name == "team-shared-2"


def test_files_are_their_uploaders(kb: MoatServer):
    admin = kb.client()
    f = upload(admin, "note.txt", "admin only")
    hr = kb.client(key(kb, "hr"))
    with pytest.raises(openai.NotFoundError):
        hr.files.retrieve(f.id)
    assert f.id not in {x.id for x in hr.files.list()}
    assert admin.files.content(f.id).read() == b"admin only"


# ---------- deletion ----------


def test_deleting_a_file_removes_its_chunks_from_both_indexes(kb: MoatServer):
    client = kb.client()
    vs = client.vector_stores.create(name="deletion")
    f = upload(client, "budget.md", BUDGET)
    assert client.vector_stores.files.create_and_poll(vector_store_id=vs.id, file_id=f.id).status == "completed"
    for mode in ["keyword", "vector"]:
        found = client.vector_stores.search(vector_store_id=vs.id, query="KX-310A budget", extra_body={"moat": {"mode": mode}})
        assert names(found) == ["budget.md"], mode
    assert client.files.delete(f.id).deleted
    for mode in ["keyword", "vector", "hybrid"]:
        found = client.vector_stores.search(vector_store_id=vs.id, query="KX-310A budget", extra_body={"moat": {"mode": mode}})
        assert found.data == [], mode
    assert client.vector_stores.retrieve(vs.id).file_counts.total == 0


# ---------- bad files ----------


def test_corrupt_and_unsupported_files_fail_cleanly_and_do_not_stop_a_batch(kb: MoatServer):
    client = kb.client()
    vs = client.vector_stores.create(name="bad files")
    good = upload(client, "travel.md", TRAVEL)
    corrupt = upload(client, "report.docx", b"PK\x03\x04 this is not a zip archive at all")
    unsupported = upload(client, "program.exe", b"MZ\x90\x00binary")
    batch = client.vector_stores.file_batches.create_and_poll(
        vector_store_id=vs.id, file_ids=[good.id, corrupt.id, unsupported.id]
    )
    assert batch.file_counts.completed == 1 and batch.file_counts.failed == 2, batch.file_counts
    by_id = {f.id: f for f in client.vector_stores.files.list(vector_store_id=vs.id)}
    assert by_id[good.id].status == "completed"
    assert by_id[corrupt.id].status == "failed"
    assert by_id[corrupt.id].last_error.code == "invalid_file"
    assert by_id[unsupported.id].last_error.code == "unsupported_file"
    # The server is still up and answers.
    assert kb.http().get("/health").status_code == 200


def test_hostile_uploads_are_refused_in_openai_shape(kb: MoatServer):
    with kb.http() as http:
        no_purpose = http.post("/v1/files", files={"file": ("a.txt", b"x")})
        assert no_purpose.status_code == 400
        assert error_of(no_purpose)["param"] == "purpose"
        bad_purpose = http.post("/v1/files", files={"file": ("a.txt", b"x")}, data={"purpose": "nonsense"})
        assert bad_purpose.status_code == 400
        no_name = http.post("/v1/files", files={"file": ("", b"x")}, data={"purpose": "assistants"})
        assert no_name.status_code == 400
        not_multipart = http.post("/v1/files", json={"file": "x", "purpose": "assistants"})
        assert not_multipart.status_code == 400
        traversal = http.post("/v1/files", files={"file": ("../../etc/passwd", b"root")}, data={"purpose": "assistants"})
        assert traversal.status_code == 200 and traversal.json()["filename"] == "passwd"
        bad_filter = http.post(
            "/v1/vector_stores/vs_nope/search", json={"query": "x", "filters": {"type": "eq", "key": "a", "value": 1}}
        )
        assert bad_filter.status_code in (400, 404)


# ---------- formats ----------

HTML = """<!doctype html><html><head><title>Remote work</title>
<style>.x { color: red }</style><script>var secret = "SCRIPTWORD";</script></head>
<body><nav>Home | NAVWORD | Contact</nav>
<h1>Remote work</h1><p>Staff may work from home on up to three days a week.</p>
<footer>FOOTERWORD</footer></body></html>"""

CSV = "region,manager,budget\nNorth,Alice Varga,120000\nSouth,Bruno Costa,95000\n"


def docx(paragraphs: list[str]) -> bytes:
    """A minimal .docx with one paragraph per text."""
    import zipfile

    body = "".join(f"<w:p><w:r><w:t>{p}</w:t></w:r></w:p>" for p in paragraphs)
    document = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
        f"<w:body>{body}</w:body></w:document>"
    )
    types = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Override PartName="/word/document.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
        "</Types>"
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", types)
        z.writestr("word/document.xml", document)
    return out.getvalue()


def test_html_csv_and_docx_are_extracted_as_text(kb: MoatServer):
    client = kb.client()
    vs = client.vector_stores.create(name="formats")
    files = {
        "remote.html": HTML,
        "budgets.csv": CSV,
        "合同.docx": docx(["合同编号HT-2025-0042", "供货方应在三十日内交付全部货物。"]),
    }
    for name, content in files.items():
        f = upload(client, name, content)
        done = client.vector_stores.files.create_and_poll(vector_store_id=vs.id, file_id=f.id)
        assert done.status == "completed", (name, done.last_error)

    def keyword(query: str):
        return client.vector_stores.search(vector_store_id=vs.id, query=query, extra_body={"moat": {"mode": "keyword"}})

    assert names(keyword("work from home days"))[:1] == ["remote.html"]
    for boilerplate in ["SCRIPTWORD", "NAVWORD", "FOOTERWORD"]:
        assert keyword(boilerplate).data == [], boilerplate
    # A table chunk keeps its header row.
    found = keyword("Bruno Costa")
    assert names(found)[:1] == ["budgets.csv"]
    assert "region" in found.data[0].content[0].text and "budget" in found.data[0].content[0].text
    found = keyword("HT-2025-0042")
    assert names(found)[:1] == ["合同.docx"]
    assert names(keyword("交付货物"))[:1] == ["合同.docx"]


def test_a_chinese_pdf_and_an_xlsx_are_extracted_and_found(kb: MoatServer):
    """The PDF's text is in a CID font whose CMap only poppler decodes: moat
    falls back to `pdftotext`. Each xlsx chunk carries the header row."""
    client = kb.client()
    vs = client.vector_stores.create(name="formats-2")
    rows = [["型号", "单价", "供应商"]] + [[f"KX-{300 + i}A", f"{1000 + i}", f"供应商{i}号"] for i in range(40)]
    files = {
        "差旅标准.pdf": cjk_pdf(["第十七条 直辖市住宿费每晚不超过六百元。", "第十八条 报销须附发票原件。"]),
        "设备清单.xlsx": xlsx("设备", rows),
    }
    extractors = {}
    for name, content in files.items():
        done = client.vector_stores.files.create_and_poll(vector_store_id=vs.id, file_id=upload(client, name, content).id)
        assert done.status == "completed", (name, done.last_error)
        extractors[name] = done.model_dump()["moat"]["extractor"]
    # The file says which extractor read it: here poppler, not the built-in reader.
    assert extractors == {"差旅标准.pdf": "pdftotext", "设备清单.xlsx": "xlsx"}

    def keyword(query: str):
        return client.vector_stores.search(vector_store_id=vs.id, query=query, extra_body={"moat": {"mode": "keyword"}})

    found = keyword("住宿费每晚")
    assert names(found)[:1] == ["差旅标准.pdf"]
    assert "不超过六百元" in found.data[0].content[0].text
    found = keyword("KX-339A")
    assert names(found)[:1] == ["设备清单.xlsx"]
    text = found.data[0].content[0].text
    assert "KX-339A" in text and "型号" in text and "单价" in text, text


def test_attribute_filters_narrow_the_search(kb: MoatServer):
    client = kb.client()
    vs = client.vector_stores.create(name="filters")
    for name, text, dept in [("a.md", TRAVEL, "travel"), ("b.md", BUDGET, "finance")]:
        f = upload(client, name, text)
        client.vector_stores.files.create_and_poll(vector_store_id=vs.id, file_id=f.id, attributes={"department": dept})
    found = client.vector_stores.search(
        vector_store_id=vs.id, query="budget hotel", filters={"type": "eq", "key": "department", "value": "finance"}
    )
    assert set(names(found)) == {"b.md"}
    assert found.data[0].attributes == {"department": "finance"}
    bad = kb.http().post(
        f"/v1/vector_stores/{vs.id}/search", json={"query": "x", "filters": {"type": "like", "key": "a", "value": 1}}
    )
    assert bad.status_code == 400 and error_of(bad)["param"] == "filters"


def test_fusion_weights_choose_the_ranking_and_bad_ones_are_refused(kb: MoatServer, store):
    vs, _ = store
    client = kb.client()

    def ranked(weights: dict) -> list[tuple[str, float]]:
        page = client.vector_stores.search(
            vector_store_id=vs.id, query="hotel budget", extra_body={"moat": {"weights": weights}}
        )
        return [(r.filename, round(r.score, 6)) for r in page.data]

    def alone(mode: str) -> list[str]:
        page = client.vector_stores.search(vector_store_id=vs.id, query="hotel budget", extra_body={"moat": {"mode": mode}})
        return [r.filename for r in page.data]

    # A weight of 0 leaves the other ranking's order (the zero-weighted
    # list's other chunks follow, at score 0).
    for mode, weights in [("keyword", {"keyword": 1, "vector": 0}), ("vector", {"keyword": 0, "vector": 1})]:
        order = alone(mode)
        fused = ranked(weights)
        assert [n for n, _ in fused[: len(order)]] == order, mode
        assert all(score == 0 for _, score in fused[len(order) :]), mode
    for weights in [{"keyword": -1, "vector": 1}, {"keyword": 0, "vector": 0}, {"keyword": 1}, {"keyword": 1, "vector": 1, "x": 2}, {"keyword": 1e308, "vector": 1e308}]:
        resp = kb.http().post(f"/v1/vector_stores/{vs.id}/search", json={"query": "x", "moat": {"weights": weights}})
        assert resp.status_code == 400, (weights, resp.text)

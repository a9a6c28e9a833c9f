from mmon.store import Store


def test_s3_roundtrip(s3_store: Store, s3_bucket: str) -> None:
    url = f"{s3_bucket}/a/b.json"
    s3_store.write_text(url, '{"x": 1}')
    assert s3_store.read_text(url) == '{"x": 1}'
    assert s3_store.expand([f"{s3_bucket}/a"]) == [url]

"""The container reader (domain/media.py) on hand-built bytes: what it reads of MP4/MOV and Matroska, how little, and
how it refuses what is no video or is hostile. Real files made by FFmpeg: tests/integration/test_media_corpus.py."""

from __future__ import annotations

import struct
from collections.abc import Iterable

import pytest
from iso_media import (
    Sparse,
    box,
    ftyp,
    full,
    hdlr,
    mdat_header,
    mdhd,
    moov,
    moov_last,
    mp4,
    mvhd,
    over,
    stsd,
    tkhd,
    trak,
    visual_entry,
)

from antipiracy.domain.media import (
    MIB,
    MediaInfo,
    NotAVideo,
    Unreadable,
    probe,
    read_budget,
    shortfalls,
)

MOOV = moov(mvhd(), trak())


# ---- MP4 / MOV -------------------------------------------------------------------------------------------------


def test_moov_first_gives_container_duration_codec_and_picture() -> None:
    reader = over(mp4(ftyp(), MOOV, mdat_header(1000) + bytes(992)))

    info = reader.probe()

    assert (info.container, info.duration_seconds, info.video_codec) == ("mp4", 360.0, "h264")
    assert (info.width, info.height, info.fragmented, info.size) == (1280, 720, False, reader.size)


def test_moov_last_is_found_by_skipping_mdat_without_reading_it() -> None:
    reader = moov_last(MOOV, 200 * MIB)

    info = reader.probe()

    assert info.duration_seconds == 360.0
    assert reader.asked < 16 * 1024  # the first 4 KiB, a header, the moov: not the 200 MiB mdat


def test_a_64_bit_mdat_size_is_followed_to_the_moov_after_it() -> None:
    reader = moov_last(MOOV, 5 << 30)  # a 5 GiB mdat: only a 64-bit largesize holds it

    info = reader.probe()

    assert (info.video_codec, info.duration_seconds, info.size) == ("h264", 360.0, (5 << 30) + 24 + len(MOOV))
    assert info.bytes_read == reader.asked < 16 * 1024


def test_bytes_read_reports_what_the_reader_was_asked() -> None:
    reader = moov_last(MOOV, 10 * MIB)

    info = reader.probe()

    assert info.bytes_read == reader.asked


def test_mvhd_version_1_has_64_bit_times() -> None:
    reader = over(mp4(ftyp(), moov(mvhd(90_000, 90_000 * 7200, version=1), trak())))

    assert reader.probe().duration_seconds == 7200.0


def test_an_mvhd_without_duration_falls_back_to_the_video_tracks_mdhd() -> None:
    reader = over(mp4(ftyp(), moov(mvhd(1000, 0), trak(media=(12800, 12800 * 400)))))

    assert reader.probe().duration_seconds == 400.0


def test_brand_qt_is_mov() -> None:
    assert over(mp4(ftyp(b"qt  "), MOOV)).probe().container == "mov"


def test_a_quicktime_file_without_ftyp_is_mov() -> None:
    assert over(mp4(box("wide"), MOOV)).probe().container == "mov"


def test_portrait_keeps_its_stored_orientation() -> None:
    info = over(mp4(ftyp(), moov(mvhd(), trak(size=(480, 854))))).probe()

    assert (info.width, info.height) == (480, 854)


def test_the_sample_entry_size_is_preferred_to_tkhd() -> None:
    # tkhd holds the display size (here anamorphic, 1024 wide); the sample entry the coded picture.
    info = over(mp4(ftyp(), moov(mvhd(), trak(size=(1024, 576), entry_size=(720, 576))))).probe()

    assert (info.width, info.height) == (720, 576)


def test_tkhd_size_is_used_when_the_sample_entry_has_none() -> None:
    info = over(mp4(ftyp(), moov(mvhd(), trak(size=(1280, 720), entry_size=(0, 0))))).probe()

    assert (info.width, info.height) == (1280, 720)


@pytest.mark.parametrize(
    ("fourcc", "codec"),
    [
        (b"avc1", "h264"),
        (b"avc3", "h264"),
        (b"hvc1", "hevc"),
        (b"hev1", "hevc"),
        (b"mp4v", "mpeg4"),
        (b"vp09", "vp9"),
        (b"av01", "av1"),
        (b"mjpa", "mjpa"),
    ],
)
def test_each_sample_entry_fourcc_names_its_codec(fourcc: bytes, codec: str) -> None:
    assert over(mp4(ftyp(), moov(mvhd(), trak(fourcc)))).probe().video_codec == codec


def test_the_video_track_is_found_after_an_audio_track() -> None:
    audio = trak(b"mp4a", (0, 0), handler=b"soun", track_id=1)
    video = trak(b"hvc1", (1920, 1080), track_id=2)

    info = over(mp4(ftyp(), moov(mvhd(), audio, video))).probe()

    assert (info.video_codec, info.width, info.height) == ("hevc", 1920, 1080)


def test_an_mp4_with_no_video_track_is_not_a_video() -> None:
    with pytest.raises(NotAVideo, match="no video track"):
        over(mp4(ftyp(), moov(mvhd(), trak(b"mp4a", (0, 0), handler=b"soun")))).probe()


def test_an_mp4_without_moov_is_unreadable() -> None:
    with pytest.raises(Unreadable, match="no moov box"):
        over(mp4(ftyp(), mdat_header(5000) + bytes(4992))).probe()


def test_a_large_moov_is_descended_box_by_box_without_reading_its_tables() -> None:
    # A 40 MiB moov (a long film's sample tables): its stsz is skipped by its header, never read.
    big_stsz = struct.pack(">I4s", 40 * MIB, b"stsz")
    moov_box = moov(mvhd(), trak())
    size = len(moov_box) + 40 * MIB
    head = struct.pack(">I4s", size, b"moov") + moov_box[8:]
    reader = Sparse({0: ftyp(), len(ftyp()): head + big_stsz}, size=len(ftyp()) + size)

    info = reader.probe()

    assert (info.video_codec, info.duration_seconds) == ("h264", 360.0)
    assert reader.asked < 64 * 1024


# ---- fragmented MP4 --------------------------------------------------------------------------------------------


def mvex(*children: bytes) -> bytes:
    return box("mvex", *children)


def mehd(duration: int, version: int = 0) -> bytes:
    return full("mehd", version, struct.pack(">Q" if version else ">I", duration))


def trex(track_id: int = 1, default_duration: int = 0) -> bytes:
    return full("trex", 0, struct.pack(">IIIII", track_id, 1, default_duration, 0, 0))


def moof(
    durations: Iterable[int] = (), *, base: int | None = None, default: int | None = None, count: int = 0
) -> bytes:
    listed = list(durations)
    tfhd_fields = struct.pack(">I", 1) + (struct.pack(">I", default) if default is not None else b"")
    tfhd = full("tfhd", 0, tfhd_fields, flags=0x020000 | (0x8 if default is not None else 0))
    tfdt = full("tfdt", 1, struct.pack(">Q", base)) if base is not None else b""
    if listed:
        trun = full("trun", 0, struct.pack(">I", len(listed)), *(struct.pack(">I", d) for d in listed), flags=0x100)
    else:
        trun = full("trun", 0, struct.pack(">I", count))
    return box("moof", full("mfhd", 0, struct.pack(">I", 1)), box("traf", tfhd, tfdt, trun))


def fragment(*durations: int, base: int | None = None) -> bytes:
    return moof(durations, base=base) + box("mdat", bytes(64))


FRAGMENTED_MOOV = moov(mvhd(1000, 0), trak(media=(12800, 0)), mvex(trex(1, 512)))


def test_fragmented_duration_comes_from_mehd() -> None:
    reader = over(mp4(ftyp(), moov(mvhd(1000, 0), trak(), mvex(mehd(361_000), trex())), fragment(512, 512)))

    info = reader.probe()

    assert (info.fragmented, info.duration_seconds) == (True, 361.0)


def test_fragmented_duration_comes_from_mehd_version_1() -> None:
    reader = over(mp4(ftyp(), moov(mvhd(1000, 0), trak(), mvex(mehd(1000 * 7200, version=1), trex()))))

    assert reader.probe().duration_seconds == 7200.0


def sidx(timescale: int, durations: list[int], sizes: list[int], earliest: int = 0) -> bytes:
    refs = b"".join(
        struct.pack(">III", size, duration, 0x90000000) for size, duration in zip(sizes, durations, strict=True)
    )
    return full("sidx", 0, struct.pack(">IIIIHH", 1, timescale, earliest, 0, 0, len(sizes)), refs)


def test_fragmented_duration_comes_from_a_sidx_indexing_every_fragment() -> None:
    fragments = [fragment(512), fragment(512)]
    index = sidx(1000, [150_000, 160_000], [len(f) for f in fragments])

    info = over(mp4(ftyp(), FRAGMENTED_MOOV, index, *fragments)).probe()

    assert info.duration_seconds == 310.0


def test_a_sidx_indexing_only_its_own_fragment_is_not_taken_for_the_whole() -> None:
    first, second = fragment(12800 * 100), fragment(12800 * 250)
    own = sidx(12800, [12800 * 100], [len(first)])

    info = over(mp4(ftyp(), FRAGMENTED_MOOV, own, first, second)).probe()

    assert info.duration_seconds == 350.0


def test_fragmented_duration_adds_up_trun_sample_durations() -> None:
    fragments = [fragment(*([12800 * 5] * 36)) for _ in range(2)]

    info = over(mp4(ftyp(), FRAGMENTED_MOOV, *fragments)).probe()

    assert info.duration_seconds == 360.0


def test_fragmented_duration_uses_tfdt_to_place_the_last_fragment() -> None:
    fragments = [fragment(12800, base=0), fragment(12800 * 2, base=12800 * 298)]

    assert over(mp4(ftyp(), FRAGMENTED_MOOV, *fragments)).probe().duration_seconds == 300.0


def test_fragmented_duration_uses_tfhd_then_trex_default_durations() -> None:
    with_tfhd = moof(default=12800 * 2, count=100) + box("mdat")
    with_trex = moof(count=100) + box("mdat")  # trex: 512 ticks a sample

    info = over(mp4(ftyp(), FRAGMENTED_MOOV, with_tfhd, with_trex)).probe()

    assert info.duration_seconds == pytest.approx(200 + 100 * 512 / 12800)


def mfra(track_id: int, moof_offsets: list[int]) -> bytes:
    entries = b"".join(struct.pack(">IIBBB", 0, offset, 1, 1, 1) for offset in moof_offsets)
    tfra = full("tfra", 0, struct.pack(">III", track_id, 0, len(moof_offsets)), entries)
    mfro = full("mfro", 0, struct.pack(">I", 0))  # its size field is set below, once the mfra's is known
    whole = box("mfra", tfra, mfro)
    return whole[:-4] + struct.pack(">I", len(whole))


def test_fragmented_duration_comes_from_the_last_moof_the_mfra_lists() -> None:
    head = mp4(ftyp(), FRAGMENTED_MOOV)
    fragments = [fragment(12800 * 100, base=12800 * 100 * index) for index in range(30)]
    last_at = len(head) + sum(len(f) for f in fragments[:-1])
    reader = over(mp4(head, *fragments, mfra(1, [len(head), last_at])))

    info = reader.probe()

    assert info.duration_seconds == 3000.0
    assert reader.calls <= 6  # the head, the mfro, the mfra, the last moof and its header: not 30 fragments


def test_fragments_after_the_last_one_the_mfra_lists_are_counted_too() -> None:
    head = mp4(ftyp(), FRAGMENTED_MOOV)
    fragments = [fragment(12800 * 100, base=12800 * 100 * index) for index in range(4)]

    info = over(mp4(head, *fragments, mfra(1, [len(head)]))).probe()

    assert info.duration_seconds == 400.0


def test_an_mfra_pointing_at_no_moof_falls_back_to_walking_the_fragments() -> None:
    head = mp4(ftyp(), FRAGMENTED_MOOV)
    fragments = [fragment(12800 * 100, base=12800 * 100 * index) for index in range(4)]

    info = over(mp4(head, *fragments, mfra(1, [len(head) + 3]))).probe()

    assert info.duration_seconds == 400.0


def test_a_fragmented_file_cut_inside_a_moof_counts_the_fragments_before_it() -> None:
    data = mp4(ftyp(), FRAGMENTED_MOOV, fragment(12800 * 100), fragment(12800 * 100), fragment(12800 * 100))

    info = over(data[: len(data) - 80]).probe()

    assert info.duration_seconds == 200.0


def test_walking_fragments_past_the_budget_makes_the_duration_unknown() -> None:
    fragments = b"".join(fragment(*([512] * 200)) for _ in range(40))  # about 33 KiB of moofs

    with pytest.raises(Unreadable, match="duration unknown within 16384 bytes"):
        over(mp4(ftyp(), FRAGMENTED_MOOV, fragments)).probe(budget=16 * 1024)


def test_fragments_past_mdat_sizes_are_read_one_request_each() -> None:
    fragments = [fragment(512, 512) for _ in range(10)]
    reader = over(mp4(ftyp(), FRAGMENTED_MOOV, *fragments))

    reader.probe()

    assert reader.calls <= 2 + len(fragments)  # the head (ftyp, moov), then each moof with the header after it


# ---- Matroska --------------------------------------------------------------------------------------------------


def ebml_size(size: int, length: int = 8) -> bytes:
    return ((1 << (7 * length)) | size).to_bytes(length, "big")


UNKNOWN = b"\x01\xff\xff\xff\xff\xff\xff\xff"


def el(ident: int, *payload: bytes, size: bytes | None = None) -> bytes:
    body = b"".join(payload)
    return ident.to_bytes((ident.bit_length() + 7) // 8, "big") + (size or ebml_size(len(body))) + body


def uint(ident: int, value: int) -> bytes:
    return el(ident, value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big"))


def ebml_header(doctype: bytes = b"matroska") -> bytes:
    return el(0x1A45DFA3, uint(0x4286, 1), el(0x4282, doctype), uint(0x4287, 4))


def info(duration_ms: float | None = 360_000.0, scale: int | None = 1_000_000, single: bool = False) -> bytes:
    parts = [uint(0x2AD7B1, scale)] if scale is not None else []
    if duration_ms is not None:
        parts.append(el(0x4489, struct.pack(">f" if single else ">d", duration_ms)))
    return el(0x1549A966, *parts)


def tracks(*entries: bytes) -> bytes:
    return el(0x1654AE6B, *entries)


def video_entry(codec: bytes = b"V_MPEG4/ISO/AVC", width: int = 1280, height: int = 720, number: int = 1) -> bytes:
    picture = el(0xE0, uint(0xB0, width), uint(0xBA, height))
    return el(0xAE, uint(0xD7, number), uint(0x83, 1), el(0x86, codec), picture)


def audio_entry(number: int = 2) -> bytes:
    return el(0xAE, uint(0xD7, number), uint(0x83, 2), el(0x86, b"A_OPUS"))


def cluster(size: int = 100) -> bytes:
    return el(0x1F43B675, uint(0xE7, 0), el(0xA3, bytes(size)))


def seekhead(entries: dict[int, int]) -> bytes:
    seeks = [
        el(0x4DBB, el(0x53AB, ident.to_bytes(4, "big")), el(0x53AC, position.to_bytes(8, "big")))
        for ident, position in entries.items()
    ]
    return el(0x114D9B74, *seeks)


def mkv(*children: bytes, doctype: bytes = b"matroska", unknown_size: bool = False) -> bytes:
    body = b"".join(children)
    return ebml_header(doctype) + el(0x18538067, body, size=UNKNOWN if unknown_size else None)


def test_matroska_info_and_tracks_before_the_clusters() -> None:
    reader = over(mkv(info(), tracks(audio_entry(), video_entry(b"V_MPEGH/ISO/HEVC", 1920, 1080)), cluster()))

    info_ = reader.probe()

    assert (info_.container, info_.video_codec, info_.width, info_.height) == ("mkv", "hevc", 1920, 1080)
    assert (info_.duration_seconds, info_.fragmented) == (360.0, False)


def test_matroska_info_and_tracks_after_the_clusters_are_found_through_the_seekhead() -> None:
    clusters = cluster(3 * MIB)
    late = info() + tracks(video_entry())
    # The SeekHead's positions are relative to the Segment's data; the placeholder has the final length.
    placeholder = seekhead({0x1549A966: 0, 0x1654AE6B: 0})
    info_at = len(placeholder) + len(clusters)
    head = seekhead({0x1549A966: info_at, 0x1654AE6B: info_at + len(info())})
    reader = over(mkv(head, clusters, late))

    result = reader.probe()

    assert (result.video_codec, result.duration_seconds) == ("h264", 360.0)
    assert reader.asked < 64 * 1024  # the 3 MiB cluster skipped by its header


def test_matroska_clusters_are_skipped_by_their_headers_without_a_seekhead() -> None:
    reader = over(mkv(info(), cluster(2 * MIB), tracks(video_entry())))

    info_ = reader.probe()

    assert info_.video_codec == "h264"
    assert reader.asked < 64 * 1024


def test_an_unknown_size_segment_runs_to_the_end_of_the_file() -> None:
    info_ = over(mkv(info(), tracks(video_entry()), cluster(), unknown_size=True)).probe()

    assert (info_.video_codec, info_.duration_seconds) == ("h264", 360.0)


def test_webm_doctype_is_reported_as_webm() -> None:
    info_ = over(mkv(info(), tracks(video_entry(b"V_VP9")), doctype=b"webm")).probe()

    assert (info_.container, info_.video_codec) == ("webm", "vp9")


def test_a_missing_timestamp_scale_defaults_to_a_millisecond_and_a_4_byte_duration_is_read() -> None:
    info_ = over(mkv(info(300_000.0, scale=None, single=True), tracks(video_entry()))).probe()

    assert info_.duration_seconds == 300.0


def test_a_matroska_file_without_duration_has_an_unknown_duration() -> None:
    assert over(mkv(info(None), tracks(video_entry()))).probe().duration_seconds is None


@pytest.mark.parametrize(
    ("codec_id", "codec"),
    [
        (b"V_MPEG4/ISO/AVC", "h264"),
        (b"V_MPEGH/ISO/HEVC", "hevc"),
        (b"V_MPEG4/ISO/ASP", "mpeg4"),
        (b"V_MPEG4/ISO/SP", "mpeg4"),
        (b"V_VP9", "vp9"),
        (b"V_VP8", "vp8"),
        (b"V_AV1", "av1"),
        (b"V_MS/VFW/FOURCC", "V_MS/VFW/FOURCC"),
    ],
)
def test_each_codec_id_names_its_codec(codec_id: bytes, codec: str) -> None:
    assert over(mkv(info(), tracks(video_entry(codec_id)))).probe().video_codec == codec


def test_a_matroska_file_without_video_track_is_not_a_video() -> None:
    with pytest.raises(NotAVideo, match="no video track"):
        over(mkv(info(), tracks(audio_entry()))).probe()


def test_an_ebml_document_of_another_type_is_not_a_video() -> None:
    with pytest.raises(NotAVideo, match="'notmatroska'"):
        over(mkv(info(), tracks(video_entry()), doctype=b"notmatroska")).probe()


def test_an_unknown_size_cluster_before_tracks_without_seekhead_is_unreadable() -> None:
    live = el(0x1F43B675, uint(0xE7, 0), size=UNKNOWN) + bytes(1000)

    with pytest.raises(Unreadable, match="unknown size"):
        over(mkv(info(), live, unknown_size=True)).probe()


def test_a_matroska_file_cut_before_its_tracks_is_unreadable() -> None:
    data = mkv(info(), tracks(video_entry()))

    with pytest.raises(Unreadable):
        over(data[: len(data) - 10]).probe()


# ---- what is no video container --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "said"),
    [
        (b"Hello, this is a subtitle file, not a movie.\n" * 10, "text"),
        (bytes.fromhex("ffd8ffe000104a464946") + bytes(100), "JPEG"),
        ((b"G\x40\x00\x10" + bytes(184)) * 4, "MPEG transport stream"),
        (b"RIFF\x00\x10\x00\x00AVI LIST" + bytes(100), "AVI"),
        (b"\x00\x00\x00\x00\xde\xad\xbe\xef" * 20, "unknown bytes"),
    ],
)
def test_bytes_of_no_video_container_are_not_a_video_and_say_what_they_look_like(data: bytes, said: str) -> None:
    with pytest.raises(NotAVideo, match=said):
        over(data).probe()


def test_an_empty_object_is_not_a_video() -> None:
    with pytest.raises(NotAVideo, match="empty"):
        probe(lambda offset, length: b"", 0)


# ---- hostile input ---------------------------------------------------------------------------------------------


def test_a_moov_claiming_more_than_the_file_is_unreadable_and_not_read() -> None:
    claim = struct.pack(">I4s", 0xFFFFFF00, b"moov") + MOOV[8:]
    reader = over(mp4(ftyp(), claim))

    with pytest.raises(Unreadable, match="moov box is cut short"):
        reader.probe()
    assert reader.asked <= 4096 + 64


def test_a_64_bit_box_size_past_the_file_ends_the_walk_without_moov() -> None:
    reader = over(mp4(ftyp(), struct.pack(">I4sQ", 1, b"free", (1 << 64) - 1), MOOV))

    with pytest.raises(Unreadable, match="no moov box"):
        reader.probe()
    assert reader.asked <= 4096


def test_a_box_smaller_than_its_header_is_unreadable() -> None:
    with pytest.raises(Unreadable, match="less than its header"):
        over(mp4(ftyp(), struct.pack(">I4s", 4, b"free"), MOOV)).probe()


def test_a_child_box_running_past_its_parent_is_unreadable() -> None:
    bad = moov(mvhd(), struct.pack(">I4s", 100_000, b"trak"))

    with pytest.raises(Unreadable, match="past the end of its parent"):
        over(mp4(ftyp(), bad)).probe()


def test_a_moov_claiming_a_billion_tracks_stops_at_the_track_cap() -> None:
    many = moov(mvhd(), box("trak") * 1000)
    reader = over(mp4(ftyp(), many))

    with pytest.raises(Unreadable, match="more than 256 tracks"):
        reader.probe()


def test_a_moov_of_a_million_tiny_boxes_stops_at_the_children_cap() -> None:
    reader = over(mp4(ftyp(), moov(mvhd(), box("free") * 1_000_000)))

    with pytest.raises(Unreadable, match="more than 4096 boxes"):
        reader.probe()


def test_a_billion_sample_descriptions_read_only_the_first() -> None:
    entry = visual_entry(b"avc1", 1280, 720)
    tables = box("stbl", stsd(entry, count=1_000_000_000))
    track = box("trak", tkhd(1280, 720), box("mdia", mdhd(), hdlr(), box("minf", tables)))

    assert over(mp4(ftyp(), moov(mvhd(), track))).probe().video_codec == "h264"


def test_a_trun_claiming_more_samples_than_it_holds_is_unreadable() -> None:
    lying = full("trun", 0, struct.pack(">I", 1_000_000_000), struct.pack(">I", 512), flags=0x100)
    tfhd = full("tfhd", 0, struct.pack(">I", 1), flags=0x020000)
    fragment_ = box("moof", box("traf", tfhd, lying)) + box("mdat")

    with pytest.raises(Unreadable, match="claims 1000000000 samples"):
        over(mp4(ftyp(), FRAGMENTED_MOOV, fragment_)).probe()


def test_a_zero_timescale_makes_the_duration_unknown() -> None:
    info_ = over(mp4(ftyp(), moov(mvhd(0, 360_000), trak(media=(0, 1000))))).probe()

    assert info_.duration_seconds is None


def test_an_all_ones_64_bit_duration_is_unknown_not_a_float_overflow() -> None:
    all_ones = (1 << 64) - 1
    info_ = over(mp4(ftyp(), moov(mvhd(1, all_ones, version=1), trak(media=(1, 0))))).probe()

    assert info_.duration_seconds is None
    assert shortfalls(info_)[0].code == "D002"


def test_a_file_cut_inside_moov_is_unreadable() -> None:
    data = mp4(ftyp(), MOOV)

    with pytest.raises(Unreadable, match="cut short"):
        over(data[: len(data) - 50]).probe()


def test_a_reader_giving_fewer_bytes_than_the_size_said_is_unreadable_not_a_crash() -> None:
    data = mp4(ftyp(), MOOV)

    def short(offset: int, length: int) -> bytes:
        return data[:200][offset : offset + length]

    with pytest.raises(Unreadable):
        probe(short, len(data))


def test_an_ebml_element_claiming_petabytes_is_refused_without_reading_it() -> None:
    huge = bytes.fromhex("1549A966") + ebml_size((1 << 56) - 2) + bytes(100)
    reader = over(mkv(huge))

    with pytest.raises(Unreadable, match="Info element"):
        reader.probe()
    assert reader.asked <= 4096


def test_unknown_size_elements_nested_without_end_are_unreadable() -> None:
    nested = b"".join(bytes.fromhex("1254C367") + UNKNOWN for _ in range(1000))  # Tags in Tags in Tags...

    with pytest.raises(Unreadable, match="unknown size"):
        over(mkv(nested, unknown_size=True)).probe()


def test_an_invalid_ebml_size_byte_is_unreadable() -> None:
    with pytest.raises(Unreadable, match="invalid EBML size"):
        over(ebml_header() + bytes.fromhex("18538067") + b"\x00" + bytes(20)).probe()


def test_a_seekhead_pointing_backwards_is_unreadable() -> None:
    head = seekhead({0x1549A966: 0, 0x1654AE6B: 0})

    with pytest.raises(Unreadable, match="points backwards"):
        over(mkv(head, cluster())).probe()


def test_a_seekhead_pointing_past_the_file_is_unreadable() -> None:
    head = seekhead({0x1549A966: 1 << 40, 0x1654AE6B: 1 << 40})

    with pytest.raises(Unreadable):
        over(mkv(head, cluster())).probe()


def test_an_error_of_the_reader_itself_is_handed_back_unchanged() -> None:
    def failing(offset: int, length: int) -> bytes:
        raise ValueError("S3 said SlowDown")

    with pytest.raises(ValueError, match="SlowDown"):
        probe(failing, 1000)


# ---- the read budget -------------------------------------------------------------------------------------------


def test_the_read_budget_is_a_mebibyte_or_one_percent() -> None:
    assert (read_budget(10 * MIB), read_budget(1000 * MIB)) == (MIB, 10 * MIB)


# ---- the verdict -----------------------------------------------------------------------------------------------


def media(**changes: object) -> MediaInfo:
    fields: dict[str, object] = {
        "container": "mp4",
        "duration_seconds": 360.0,
        "video_codec": "h264",
        "width": 1280,
        "height": 720,
        "size": 60_000_000,
        "fragmented": False,
        "bytes_read": 4096,
    }
    fields.update(changes)
    return MediaInfo(**fields)  # type: ignore[arg-type]


def test_a_video_meeting_every_requirement_has_no_shortfall() -> None:
    assert shortfalls(media()) == []


def test_a_short_video_is_d002_with_its_length() -> None:
    (shortfall,) = shortfalls(media(duration_seconds=2.0, size=2_000_000))

    assert shortfall.message() == "D002: the video is 2.0 s long; DoveRunner needs at least 5 minutes"


def test_an_unknown_duration_is_d002_saying_so_without_a_bitrate_shortfall() -> None:
    assert [s.message() for s in shortfalls(media(duration_seconds=None))] == [
        "D002: the video's length is unknown; DoveRunner needs at least 5 minutes"
    ]


def test_every_shortfall_is_listed_in_d_code_order() -> None:
    found = shortfalls(
        media(duration_seconds=20.0, video_codec="vp9", width=640, height=360, container="avi", size=10**6)
    )

    assert [s.code for s in found] == ["D002", "D003", "D004", "D005", "D010"]


def test_portrait_480_wide_meets_480p() -> None:
    assert shortfalls(media(width=480, height=854)) == []


def test_a_low_bitrate_is_d005_in_mbps() -> None:
    (shortfall,) = shortfalls(media(size=36_000_000))

    assert (shortfall.code, shortfall.measured) == ("D005", "0.80 Mbps")


def test_webm_counts_as_matroska() -> None:
    assert shortfalls(media(container="webm")) == []


def test_an_unknown_codec_and_picture_are_shortfalls() -> None:
    found = shortfalls(media(video_codec=None, width=None))

    assert [(s.code, s.measured) for s in found] == [("D003", "unknown"), ("D004", "unknown")]


def test_a_bitrate_far_below_a_megabit_is_shown_in_bits_per_second_not_as_zero() -> None:
    info = MediaInfo("mkv", 360.0, "h264", 854, 480, 30_000, False, 4096)

    (shortfall,) = shortfalls(info)

    assert shortfall.message() == "D005: the bitrate is 667 bit/s; DoveRunner needs at least 1 Mbps"

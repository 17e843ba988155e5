"""The Collaboration Promotion Division's real yearly programme, as event drafts.

``tomoni up`` seeds these events when demo mode is on (``TOMONI_DEMO=1``, the default for
``up``), so a fresh installation shows the city's own events rather than placeholders:

* the Japanese Speech Contest by Foreign Residents (every October, at Friendia);
* the Multicultural Fair (多文化ふれあいフェスタ, March): food and goods stalls from Japan
  and other countries, culture experiences, a stage and a stamp rally;
* Colorful Festa (カラフルふぇすた), on gender equality, with volunteer and citizen groups;
* the Volunteer Fair (ボランティア見本市);
* three seminars for foreign residents: tax and pension; high-school admission guidance
  for children whose first language is not Japanese (late September); disaster drill.

Each event is dated on its next occurrence after ``today``, by a fixed rule (for example
"the fourth Sunday of October"), so the programme always covers the coming year. Every
text is given in all twelve languages Tomoni speaks (see ``shared.i18n.LANGUAGES``).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from services.registration.domain import Category, Choice, EventDraft, FormField, Text

__all__ = ["demo_events"]

TOKYO = ZoneInfo("Asia/Tokyo")
SATURDAY, SUNDAY = 5, 6


# -- helpers ---------------------------------------------------------------------------
def _t(
    *,
    ja: str,
    en: str,
    zh: str,
    ko: str,
    vi: str,
    tl: str,
    tr: str,
    ne: str,
    id: str,
    th: str,
    pt: str,
    es: str,
) -> Text:
    """A text in all twelve languages; keyword-only, so none can be forgotten."""
    return {
        "ja": ja,
        "en": en,
        "zh": zh,
        "ko": ko,
        "vi": vi,
        "tl": tl,
        "tr": tr,
        "ne": ne,
        "id": id,
        "th": th,
        "pt": pt,
        "es": es,
    }


def _next_date(today: date, month: int, first_day: int, weekday: int) -> date:
    """The first ``weekday`` on or after ``month``/``first_day`` that falls after ``today``.

    ``first_day=22`` with ``SUNDAY`` is "the fourth Sunday"; ``first_day=24`` in a 30-day
    month is "the last Sunday".
    """
    for year in (today.year, today.year + 1):
        start = date(year, month, first_day)
        day = start + timedelta(days=(weekday - start.weekday()) % 7)
        if day > today:
            return day
    raise AssertionError("unreachable: next year's date is always after today")


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=TOKYO)


def _text(key: str, label: Text, *, required: bool = True, max_length: int = 500) -> FormField:
    return FormField(key, "text", label, required=required, max_length=max_length)


def _number(key: str, label: Text, *, required: bool = True) -> FormField:
    return FormField(key, "number", label, required=required)


def _choice(key: str, label: Text, choices: dict[str, Text], *, required: bool = True) -> FormField:
    options = tuple(Choice(value, text) for value, text in choices.items())
    return FormField(key, "choice", label, required=required, choices=options)


# "<activity> (from <time>)" for the culture-experience slots of the Multicultural Fair.
_SLOT_TITLE = _t(
    ja="{what}（{time}から）",
    en="{what} (from {time})",
    zh="{what}（{time}开始）",
    ko="{what} ({time}부터)",
    vi="{what} (từ {time})",
    tl="{what} (mula {time})",
    tr="{what} (saat {time})",
    ne="{what} ({time} बजेदेखि)",
    id="{what} (mulai pukul {time})",
    th="{what} (เริ่ม {time} น.)",
    pt="{what} (às {time})",
    es="{what} (a las {time})",
)


def _slot(name: str, what: Text, starts: time, capacity: int) -> Category:
    """A small, timed culture-experience session; the code is ``<name>_<hhmm>``."""
    hhmm = starts.strftime("%H:%M")
    title = {lang: _SLOT_TITLE[lang].format(what=what[lang], time=hhmm) for lang in what}
    return Category(
        code=f"{name}_{starts:%H%M}",
        title=title,
        capacity=capacity,
        max_party_size=2,
    )


# -- places ----------------------------------------------------------------------------
FRIENDIA = _t(
    ja="フレンディア（川口駅前市民ホール）",
    en="Friendia (Kawaguchi Station Front Civic Hall, フレンディア)",
    zh="Friendia（川口站前市民会馆，フレンディア）",
    ko="프렌디아 (가와구치역 앞 시민홀, フレンディア)",
    vi="Friendia (Hội trường thị dân trước ga Kawaguchi, フレンディア)",
    tl="Friendia (Civic Hall sa harap ng Kawaguchi Station, フレンディア)",
    tr="Friendia (Kawaguchi İstasyonu önündeki Halk Salonu, フレンディア)",
    ne="फ्रेन्डिया (कावागुची स्टेसन अगाडिको नागरिक हल, フレンディア)",
    id="Friendia (Balai Warga depan Stasiun Kawaguchi, フレンディア)",
    th="ฟเรนเดีย (หอประชุมประชาชนหน้าสถานีคาวางุจิ, フレンディア)",
    pt="Friendia (Salão Cívico em frente à Estação Kawaguchi, フレンディア)",
    es="Friendia (Salón Cívico frente a la Estación de Kawaguchi, フレンディア)",
)

CUPOLA_PLAZA = _t(
    ja="川口駅東口公共広場（キュポ・ラ広場）",
    en="Kawaguchi Station East Exit Public Square (Cupo-la Plaza, キュポ・ラ広場)",
    zh="川口站东口公共广场（キュポ・ラ广场）",
    ko="가와구치역 동쪽 출구 공공광장 (큐포라 광장, キュポ・ラ広場)",
    vi="Quảng trường công cộng cửa Đông ga Kawaguchi (Quảng trường Cupo-la, キュポ・ラ広場)",
    tl="Pampublikong Plaza sa East Exit ng Kawaguchi Station (Cupo-la Plaza, キュポ・ラ広場)",
    tr="Kawaguchi İstasyonu Doğu Çıkışı Meydanı (Cupo-la Meydanı, キュポ・ラ広場)",
    ne="कावागुची स्टेसन पूर्वी निकास सार्वजनिक चोक (क्युपोरा प्लाजा, キュポ・ラ広場)",
    id="Alun-alun Publik Pintu Timur Stasiun Kawaguchi (Cupo-la Plaza, キュポ・ラ広場)",
    th="ลานสาธารณะทางออกฝั่งตะวันออก สถานีคาวางุจิ (ลานคิวโปลา, キュポ・ラ広場)",
    pt="Praça Pública da Saída Leste da Estação Kawaguchi (Praça Cupo-la, キュポ・ラ広場)",
    es="Plaza Pública de la Salida Este de la Estación de Kawaguchi "
    "(Plaza Cupo-la, キュポ・ラ広場)",
)

PARTNER_STATION = _t(
    ja="かわぐち市民パートナーステーション（キュポ・ラM4階、川口1-1-1）",
    en="Kawaguchi Citizens' Partner Station (Cupo-la M 4th floor, キュポ・ラM4階, Kawaguchi 1-1-1)",
    zh="川口市民伙伴站（キュポ・ラM 4楼，川口1-1-1）",
    ko="가와구치 시민 파트너 스테이션 (큐포라 M 4층, キュポ・ラM4階, 가와구치 1-1-1)",
    vi="Trạm Đối tác Thị dân Kawaguchi (tầng 4 tòa Cupo-la M, キュポ・ラM4階, Kawaguchi 1-1-1)",
    tl="Kawaguchi Citizens' Partner Station (ika-4 na palapag ng Cupo-la M, Kawaguchi 1-1-1)",
    tr="Kawaguchi Vatandaş Ortaklık İstasyonu (Cupo-la M, 4. kat, Kawaguchi 1-1-1)",
    ne="कावागुची नागरिक पार्टनर स्टेसन (क्युपोरा M, चौथो तल्ला, कावागुची 1-1-1)",
    id="Kawaguchi Citizens' Partner Station (Cupo-la M lantai 4, Kawaguchi 1-1-1)",
    th="สถานีพันธมิตรพลเมืองคาวางุจิ (อาคารคิวโปลา M ชั้น 4, คาวางุจิ 1-1-1)",
    pt="Estação de Parceria Cidadã de Kawaguchi (Cupo-la M, 4º andar, Kawaguchi 1-1-1)",
    es="Estación de Colaboración Ciudadana de Kawaguchi (Cupo-la M, 4.º piso, Kawaguchi 1-1-1)",
)


# -- texts used by several events ------------------------------------------------------
REVIEW_NOTE = _t(
    ja="申し込みの内容を確認して、結果をお知らせします。",
    en="We will review your application and let you know the result.",
    zh="我们会审核您的申请，并通知您结果。",
    ko="신청 내용을 확인한 후 결과를 알려 드립니다.",
    vi="Chúng tôi sẽ xem xét đơn đăng ký và thông báo kết quả cho bạn.",
    tl="Susuriin namin ang iyong aplikasyon at ipapaalam namin sa iyo ang resulta.",
    tr="Başvurunuzu inceleyip sonucu size bildireceğiz.",
    ne="हामी तपाईंको आवेदन जाँच गरेर नतिजा जानकारी गराउनेछौं।",
    id="Kami akan memeriksa pendaftaran Anda dan memberi tahu hasilnya.",
    th="เราจะตรวจสอบใบสมัครของคุณและแจ้งผลให้ทราบ",
    pt="Vamos analisar a sua inscrição e avisar o resultado.",
    es="Revisaremos su solicitud y le avisaremos el resultado.",
)

VISITOR = _t(
    ja="来場者",
    en="Visitor",
    zh="参观者",
    ko="방문객",
    vi="Khách tham quan",
    tl="Bisita",
    tr="Ziyaretçi",
    ne="आगन्तुक",
    id="Pengunjung",
    th="ผู้เข้าชมงาน",
    pt="Visitante",
    es="Visitante",
)

PARTICIPANT = _t(
    ja="参加者",
    en="Participant",
    zh="参加者",
    ko="참가자",
    vi="Người tham gia",
    tl="Kalahok",
    tr="Katılımcı",
    ne="सहभागी",
    id="Peserta",
    th="ผู้เข้าร่วม",
    pt="Participante",
    es="Participante",
)

OTHER = _t(
    ja="その他",
    en="Other",
    zh="其他",
    ko="기타",
    vi="Khác",
    tl="Iba pa",
    tr="Diğer",
    ne="अन्य",
    id="Lainnya",
    th="อื่น ๆ",
    pt="Outro",
    es="Otro",
)

ORGANISATION = _text(
    "organisation",
    _t(
        ja="団体名",
        en="Name of your organisation",
        zh="团体（组织）名称",
        ko="단체명",
        vi="Tên tổ chức",
        tl="Pangalan ng organisasyon",
        tr="Kuruluşun adı",
        ne="संस्थाको नाम",
        id="Nama organisasi",
        th="ชื่อองค์กร",
        pt="Nome da organização",
        es="Nombre de la organización",
    ),
)

GROUP_NAME = _text(
    "group_name",
    _t(
        ja="グループ名",
        en="Group name",
        zh="团队名称",
        ko="그룹명",
        vi="Tên nhóm",
        tl="Pangalan ng grupo",
        tr="Grup adı",
        ne="समूहको नाम",
        id="Nama grup",
        th="ชื่อกลุ่ม",
        pt="Nome do grupo",
        es="Nombre del grupo",
    ),
)

ACTIVITY = _text(
    "activity",
    _t(
        ja="活動の内容",
        en="What your group does",
        zh="活动内容",
        ko="활동 내용",
        vi="Nội dung hoạt động",
        tl="Mga gawain ng grupo",
        tr="Grubun faaliyetleri",
        ne="समूहका गतिविधि",
        id="Kegiatan kelompok",
        th="กิจกรรมของกลุ่ม",
        pt="Atividades do grupo",
        es="Actividades del grupo",
    ),
)

# The interpretation languages offered at the seminars, each named in every display
# language. The city's consultation desk covers these with staff, volunteers and a
# video-call interpreting service.
_LANGUAGE_NAMES: dict[str, Text] = {
    "zh": _t(
        ja="中国語",
        en="Chinese",
        zh="中文",
        ko="중국어",
        vi="Tiếng Trung",
        tl="Chinese",
        tr="Çince",
        ne="चिनियाँ",
        id="Bahasa Mandarin",
        th="ภาษาจีน",
        pt="Chinês",
        es="Chino",
    ),
    "en": _t(
        ja="英語",
        en="English",
        zh="英语",
        ko="영어",
        vi="Tiếng Anh",
        tl="Ingles",
        tr="İngilizce",
        ne="अङ्ग्रेजी",
        id="Bahasa Inggris",
        th="ภาษาอังกฤษ",
        pt="Inglês",
        es="Inglés",
    ),
    "ko": _t(
        ja="韓国語",
        en="Korean",
        zh="韩语",
        ko="한국어",
        vi="Tiếng Hàn",
        tl="Koreano",
        tr="Korece",
        ne="कोरियाली",
        id="Bahasa Korea",
        th="ภาษาเกาหลี",
        pt="Coreano",
        es="Coreano",
    ),
    "vi": _t(
        ja="ベトナム語",
        en="Vietnamese",
        zh="越南语",
        ko="베트남어",
        vi="Tiếng Việt",
        tl="Vietnamese",
        tr="Vietnamca",
        ne="भियतनामी",
        id="Bahasa Vietnam",
        th="ภาษาเวียดนาม",
        pt="Vietnamita",
        es="Vietnamita",
    ),
    "tl": _t(
        ja="タガログ語",
        en="Tagalog",
        zh="他加禄语",
        ko="타갈로그어",
        vi="Tiếng Tagalog",
        tl="Tagalog",
        tr="Tagalogca",
        ne="टागालोग",
        id="Bahasa Tagalog",
        th="ภาษาตากาล็อก",
        pt="Tagalo",
        es="Tagalo",
    ),
    "tr": _t(
        ja="トルコ語",
        en="Turkish",
        zh="土耳其语",
        ko="튀르키예어",
        vi="Tiếng Thổ Nhĩ Kỳ",
        tl="Turkish",
        tr="Türkçe",
        ne="टर्किश",
        id="Bahasa Turki",
        th="ภาษาตุรกี",
        pt="Turco",
        es="Turco",
    ),
    "ne": _t(
        ja="ネパール語",
        en="Nepali",
        zh="尼泊尔语",
        ko="네팔어",
        vi="Tiếng Nepal",
        tl="Nepali",
        tr="Nepalce",
        ne="नेपाली",
        id="Bahasa Nepal",
        th="ภาษาเนปาล",
        pt="Nepalês",
        es="Nepalí",
    ),
    "id": _t(
        ja="インドネシア語",
        en="Indonesian",
        zh="印度尼西亚语",
        ko="인도네시아어",
        vi="Tiếng Indonesia",
        tl="Indonesian",
        tr="Endonezce",
        ne="इन्डोनेसियाली",
        id="Bahasa Indonesia",
        th="ภาษาอินโดนีเซีย",
        pt="Indonésio",
        es="Indonesio",
    ),
    "th": _t(
        ja="タイ語",
        en="Thai",
        zh="泰语",
        ko="태국어",
        vi="Tiếng Thái",
        tl="Thai",
        tr="Tayca",
        ne="थाई",
        id="Bahasa Thai",
        th="ภาษาไทย",
        pt="Tailandês",
        es="Tailandés",
    ),
    "pt": _t(
        ja="ポルトガル語",
        en="Portuguese",
        zh="葡萄牙语",
        ko="포르투갈어",
        vi="Tiếng Bồ Đào Nha",
        tl="Portuges",
        tr="Portekizce",
        ne="पोर्चुगिज",
        id="Bahasa Portugis",
        th="ภาษาโปรตุเกส",
        pt="Português",
        es="Portugués",
    ),
    "es": _t(
        ja="スペイン語",
        en="Spanish",
        zh="西班牙语",
        ko="스페인어",
        vi="Tiếng Tây Ban Nha",
        tl="Espanyol",
        tr="İspanyolca",
        ne="स्पेनिस",
        id="Bahasa Spanyol",
        th="ภาษาสเปน",
        pt="Espanhol",
        es="Español",
    ),
}

INTERPRETER = _choice(
    "interpreter",
    _t(
        ja="通訳が必要ですか。必要なことばを選んでください。",
        en="Do you need an interpreter? Please choose the language.",
        zh="您需要翻译吗？请选择语言。",
        ko="통역이 필요하십니까? 언어를 선택해 주세요.",
        vi="Bạn có cần phiên dịch không? Vui lòng chọn ngôn ngữ.",
        tl="Kailangan mo ba ng interpreter? Pakipili ang wika.",
        tr="Tercümana ihtiyacınız var mı? Lütfen dili seçin.",
        ne="तपाईंलाई दोभाषे चाहिन्छ? कृपया भाषा छान्नुहोस्।",
        id="Apakah Anda memerlukan penerjemah? Silakan pilih bahasanya.",
        th="ต้องการล่ามหรือไม่ กรุณาเลือกภาษา",
        pt="Precisa de intérprete? Escolha o idioma, por favor.",
        es="¿Necesita intérprete? Elija el idioma, por favor.",
    ),
    {
        "none": _t(
            ja="通訳はいりません",
            en="No interpreter needed",
            zh="不需要翻译",
            ko="통역 필요 없음",
            vi="Không cần phiên dịch",
            tl="Hindi kailangan ng interpreter",
            tr="Tercüman gerekmiyor",
            ne="दोभाषे चाहिँदैन",
            id="Tidak perlu penerjemah",
            th="ไม่ต้องการล่าม",
            pt="Não preciso de intérprete",
            es="No necesito intérprete",
        ),
        **_LANGUAGE_NAMES,
    },
    required=False,
)


# -- the events ------------------------------------------------------------------------
def _speech_contest(today: date) -> EventDraft:
    day = _next_date(today, 10, 22, SUNDAY)  # the fourth Sunday of October
    contestant_fields = (
        _text(
            "nationality",
            _t(
                ja="国籍",
                en="Nationality",
                zh="国籍",
                ko="국적",
                vi="Quốc tịch",
                tl="Nasyonalidad",
                tr="Uyruk",
                ne="राष्ट्रियता",
                id="Kewarganegaraan",
                th="สัญชาติ",
                pt="Nacionalidade",
                es="Nacionalidad",
            ),
        ),
        _text(
            "first_language",
            _t(
                ja="母語",
                en="First language",
                zh="母语",
                ko="모국어",
                vi="Tiếng mẹ đẻ",
                tl="Unang wika",
                tr="Anadil",
                ne="मातृभाषा",
                id="Bahasa ibu",
                th="ภาษาแม่",
                pt="Língua materna",
                es="Lengua materna",
            ),
        ),
        _number(
            "years_in_japan",
            _t(
                ja="日本に住んでいる年数",
                en="Years living in Japan",
                zh="在日本居住的年数",
                ko="일본 거주 연수",
                vi="Số năm sống ở Nhật Bản",
                tl="Ilang taon ka nang nakatira sa Japan",
                tr="Japonya'da yaşadığınız yıl sayısı",
                ne="जापानमा बसेको वर्ष",
                id="Lama tinggal di Jepang (tahun)",
                th="จำนวนปีที่อาศัยอยู่ในญี่ปุ่น",
                pt="Anos morando no Japão",
                es="Años viviendo en Japón",
            ),
        ),
        _text(
            "speech_title",
            _t(
                ja="スピーチのタイトル",
                en="Title of your speech",
                zh="演讲题目",
                ko="스피치 제목",
                vi="Tiêu đề bài hùng biện",
                tl="Pamagat ng talumpati",
                tr="Konuşmanızın başlığı",
                ne="भाषणको शीर्षक",
                id="Judul pidato",
                th="หัวข้อสุนทรพจน์",
                pt="Título do discurso",
                es="Título del discurso",
            ),
        ),
        _text(
            "speech_summary",
            _t(
                ja="スピーチの内容（かんたんに書いてください）",
                en="Short summary of your speech",
                zh="演讲内容简介",
                ko="스피치 내용 요약",
                vi="Tóm tắt nội dung bài hùng biện",
                tl="Maikling buod ng talumpati",
                tr="Konuşmanızın kısa özeti",
                ne="भाषणको छोटो सारांश",
                id="Ringkasan singkat pidato",
                th="สรุปเนื้อหาสุนทรพจน์โดยย่อ",
                pt="Resumo curto do discurso",
                es="Resumen breve del discurso",
            ),
            max_length=1000,
        ),
    )
    contestant = Category(
        code="contestant",
        title=_t(
            ja="スピーチをする人（出場者）",
            en="Speaker (contestant)",
            zh="参赛者（演讲人）",
            ko="발표자 (참가자)",
            vi="Người thi hùng biện",
            tl="Kalahok na magtatalumpati",
            tr="Konuşmacı (yarışmacı)",
            ne="भाषण दिने प्रतियोगी",
            id="Peserta lomba (pembicara)",
            th="ผู้เข้าประกวด (ผู้กล่าวสุนทรพจน์)",
            pt="Participante (orador)",
            es="Participante (orador)",
        ),
        capacity=12,
        review=True,
        description=REVIEW_NOTE,
        fields=contestant_fields,
        closes_at=_at(day - timedelta(weeks=6), 17),
    )
    audience = Category(
        code="audience",
        title=_t(
            ja="見に来る人（観覧）",
            en="Audience",
            zh="观众",
            ko="관람객",
            vi="Khán giả",
            tl="Manonood",
            tr="İzleyici",
            ne="दर्शक",
            id="Penonton",
            th="ผู้ชม",
            pt="Público",
            es="Público",
        ),
        capacity=300,
        max_party_size=4,
        reentry=True,
    )
    return EventDraft(
        slug=f"speech-contest-{day.year}",
        kind="speech_contest",
        title=_t(
            ja="日本語スピーチコンテスト（外国人による）",
            en="Japanese Speech Contest by Foreign Residents",
            zh="外国人日语演讲比赛",
            ko="외국인 일본어 스피치 콘테스트",
            vi="Cuộc thi hùng biện tiếng Nhật của người nước ngoài",
            tl="Paligsahan sa Talumpati sa Wikang Hapon ng mga Dayuhang Residente",
            tr="Yabancı Sakinlerin Japonca Konuşma Yarışması",
            ne="विदेशी बासिन्दाहरूको जापानी भाषा भाषण प्रतियोगिता",
            id="Lomba Pidato Bahasa Jepang oleh Warga Asing",
            th="การประกวดสุนทรพจน์ภาษาญี่ปุ่นโดยชาวต่างชาติ",
            pt="Concurso de Discurso em Japonês de Residentes Estrangeiros",
            es="Concurso de Oratoria en Japonés de Residentes Extranjeros",
        ),
        description=_t(
            ja="川口に住む外国人が、日本語で自分の思いを話します。だれでも聞きに来ることができます。",
            en="Foreign residents of Kawaguchi share their thoughts in Japanese. "
            "Everyone is welcome to come and listen.",
            zh="住在川口的外国人用日语讲述自己的想法。欢迎大家来听。",
            ko="가와구치에 사는 외국인이 일본어로 자신의 생각을 이야기합니다. "
            "누구나 들으러 오실 수 있습니다.",
            vi="Người nước ngoài sống ở Kawaguchi nói về suy nghĩ của mình bằng tiếng Nhật. "
            "Mọi người đều có thể đến nghe.",
            tl="Ibinabahagi ng mga dayuhang residente ng Kawaguchi ang kanilang saloobin sa "
            "wikang Hapon. Malugod na inaanyayahan ang lahat na makinig.",
            tr="Kawaguchi'de yaşayan yabancılar düşüncelerini Japonca anlatıyor. "
            "Herkes dinlemeye gelebilir.",
            ne="कावागुचीमा बस्ने विदेशीहरूले जापानी भाषामा आफ्ना विचार सुनाउँछन्। सबैजना सुन्न आउन सक्नुहुन्छ।",
            id="Warga asing yang tinggal di Kawaguchi menyampaikan pendapat mereka dalam "
            "bahasa Jepang. Semua orang boleh datang untuk mendengarkan.",
            th="ชาวต่างชาติที่อาศัยอยู่ในคาวางุจิจะพูดถึงความคิดของตนเป็นภาษาญี่ปุ่น ทุกคนสามารถมาฟังได้",
            pt="Moradores estrangeiros de Kawaguchi falam em japonês sobre o que pensam. "
            "Todos são bem-vindos para assistir.",
            es="Residentes extranjeros de Kawaguchi comparten sus ideas en japonés. "
            "Todas las personas pueden venir a escuchar.",
        ),
        venue=FRIENDIA,
        starts_at=_at(day, 13),
        ends_at=_at(day, 16, 30),
        categories=(contestant, audience),
    )


def _multicultural_fair(today: date) -> EventDraft:
    day = _next_date(today, 3, 8, SUNDAY)  # the second Sunday of March
    applications_close = _at(day - timedelta(weeks=8), 17)
    booth_exhibitor = Category(
        code="booth_exhibitor",
        title=_t(
            ja="ブースを出す人（出店者）",
            en="Booth exhibitor",
            zh="摊位参展者",
            ko="부스 출점자",
            vi="Đơn vị mở gian hàng",
            tl="Exhibitor ng booth",
            tr="Stant açan katılımcı",
            ne="स्टल राख्ने प्रदर्शक",
            id="Peserta stan",
            th="ผู้ออกบูธ",
            pt="Expositor (barraca)",
            es="Expositor (puesto)",
        ),
        capacity=40,
        review=True,
        description=REVIEW_NOTE,
        fields=(
            ORGANISATION,
            _text(
                "country_or_region",
                _t(
                    ja="国・地域",
                    en="Country or region",
                    zh="国家或地区",
                    ko="국가 또는 지역",
                    vi="Quốc gia hoặc khu vực",
                    tl="Bansa o rehiyon",
                    tr="Ülke veya bölge",
                    ne="देश वा क्षेत्र",
                    id="Negara atau wilayah",
                    th="ประเทศหรือภูมิภาค",
                    pt="País ou região",
                    es="País o región",
                ),
            ),
            _choice(
                "booth_type",
                _t(
                    ja="ブースの種類",
                    en="Type of booth",
                    zh="摊位类型",
                    ko="부스 종류",
                    vi="Loại gian hàng",
                    tl="Uri ng booth",
                    tr="Stant türü",
                    ne="स्टलको प्रकार",
                    id="Jenis stan",
                    th="ประเภทบูธ",
                    pt="Tipo de barraca",
                    es="Tipo de puesto",
                ),
                {
                    "food": _t(
                        ja="食べ物の販売",
                        en="Food sales",
                        zh="食品销售",
                        ko="음식 판매",
                        vi="Bán đồ ăn",
                        tl="Pagbebenta ng pagkain",
                        tr="Yiyecek satışı",
                        ne="खाना बिक्री",
                        id="Penjualan makanan",
                        th="ขายอาหาร",
                        pt="Venda de comida",
                        es="Venta de comida",
                    ),
                    "goods": _t(
                        ja="品物の販売",
                        en="Goods sales",
                        zh="商品销售",
                        ko="물품 판매",
                        vi="Bán hàng hóa",
                        tl="Pagbebenta ng paninda",
                        tr="Ürün satışı",
                        ne="सामान बिक्री",
                        id="Penjualan barang",
                        th="ขายสินค้า",
                        pt="Venda de produtos",
                        es="Venta de productos",
                    ),
                    "culture": _t(
                        ja="文化体験",
                        en="Culture experience",
                        zh="文化体验",
                        ko="문화 체험",
                        vi="Trải nghiệm văn hóa",
                        tl="Karanasang pangkultura",
                        tr="Kültür deneyimi",
                        ne="संस्कृति अनुभव",
                        id="Pengalaman budaya",
                        th="กิจกรรมสัมผัสวัฒนธรรม",
                        pt="Experiência cultural",
                        es="Experiencia cultural",
                    ),
                    "info": _t(
                        ja="情報・紹介",
                        en="Information",
                        zh="信息介绍",
                        ko="정보·소개",
                        vi="Thông tin, giới thiệu",
                        tl="Impormasyon",
                        tr="Bilgilendirme",
                        ne="जानकारी",
                        id="Informasi",
                        th="ให้ข้อมูล",
                        pt="Informações",
                        es="Información",
                    ),
                },
            ),
        ),
        closes_at=applications_close,
    )
    stage_performer = Category(
        code="stage_performer",
        title=_t(
            ja="ステージに出る人（出演者）",
            en="Stage performer",
            zh="舞台表演者",
            ko="무대 출연자",
            vi="Người biểu diễn trên sân khấu",
            tl="Magtatanghal sa entablado",
            tr="Sahne gösterisi",
            ne="स्टेज प्रस्तुतकर्ता",
            id="Pengisi acara panggung",
            th="ผู้แสดงบนเวที",
            pt="Apresentação no palco",
            es="Actuación en el escenario",
        ),
        capacity=15,
        review=True,
        description=REVIEW_NOTE,
        fields=(
            GROUP_NAME,
            _text(
                "performance",
                _t(
                    ja="発表の内容（ダンス、歌など）",
                    en="Your performance (dance, music, etc.)",
                    zh="表演内容（舞蹈、歌曲等）",
                    ko="공연 내용 (춤, 노래 등)",
                    vi="Nội dung biểu diễn (múa, hát...)",
                    tl="Uri ng pagtatanghal (sayaw, kanta, atbp.)",
                    tr="Gösteriniz (dans, müzik vb.)",
                    ne="प्रस्तुति (नृत्य, गीत आदि)",
                    id="Jenis pertunjukan (tari, lagu, dll.)",
                    th="การแสดง (เต้น ร้องเพลง ฯลฯ)",
                    pt="Sua apresentação (dança, música etc.)",
                    es="Su actuación (baile, música, etc.)",
                ),
            ),
            _number(
                "minutes",
                _t(
                    ja="発表の時間（分）",
                    en="Length (minutes)",
                    zh="时长（分钟）",
                    ko="공연 시간 (분)",
                    vi="Thời lượng (phút)",
                    tl="Haba (minuto)",
                    tr="Süre (dakika)",
                    ne="अवधि (मिनेट)",
                    id="Durasi (menit)",
                    th="ระยะเวลา (นาที)",
                    pt="Duração (minutos)",
                    es="Duración (minutos)",
                ),
            ),
        ),
        closes_at=applications_close,
    )
    kimono = _t(
        ja="着物体験",
        en="Try on a kimono",
        zh="和服体验",
        ko="기모노 체험",
        vi="Trải nghiệm mặc kimono",
        tl="Pagsuot ng kimono",
        tr="Kimono giyme deneyimi",
        ne="किमोनो लगाउने अनुभव",
        id="Mencoba kimono",
        th="ทดลองสวมกิโมโน",
        pt="Experimente um quimono",
        es="Pruébese un kimono",
    )
    calligraphy = _t(
        ja="書道体験",
        en="Japanese calligraphy",
        zh="书法体验",
        ko="서예 체험",
        vi="Trải nghiệm thư pháp Nhật Bản",
        tl="Japanese calligraphy",
        tr="Japon kaligrafisi deneyimi",
        ne="जापानी सुलेखन अनुभव",
        id="Pengalaman kaligrafi Jepang",
        th="ทดลองเขียนพู่กันญี่ปุ่น",
        pt="Caligrafia japonesa",
        es="Caligrafía japonesa",
    )
    henna = _t(
        ja="ヘナアート体験",
        en="Henna art",
        zh="海娜手绘体验",
        ko="헤나 아트 체험",
        vi="Trải nghiệm vẽ henna",
        tl="Henna art",
        tr="Kına sanatı deneyimi",
        ne="मेहन्दी (हेना) अनुभव",
        id="Pengalaman seni henna",
        th="ทดลองเพ้นท์เฮนนา",
        pt="Arte com hena",
        es="Arte con henna",
    )
    return EventDraft(
        slug=f"multicultural-fair-{day.year}",
        kind="fair",
        title=_t(
            ja="多文化ふれあいフェスタ",
            en="Multicultural Fair",
            zh="多元文化交流节",
            ko="다문화 교류 페스타",
            vi="Lễ hội Giao lưu Đa văn hóa",
            tl="Pista ng Iba't Ibang Kultura",
            tr="Çok Kültürlü Buluşma Festivali",
            ne="बहुसांस्कृतिक भेटघाट महोत्सव",
            id="Festival Persahabatan Multikultural",
            th="เทศกาลพหุวัฒนธรรมสัมพันธ์",
            pt="Festival Multicultural",
            es="Festival Multicultural",
        ),
        description=_t(
            ja="日本やいろいろな国の、食べ物や品物のお店が出ます。"
            "文化体験、ふれあいステージ、スタンプラリーもあります。",
            en="Stalls from Japan and many other countries sell food and goods. "
            "There are also culture experiences, a stage show and a stamp rally.",
            zh="日本和各国的摊位出售美食和商品。还有文化体验、交流舞台和集章活动。",
            ko="일본과 여러 나라의 음식과 물건을 파는 부스가 있습니다. "
            "문화 체험, 교류 무대, 스탬프 랠리도 있습니다.",
            vi="Có các gian hàng bán đồ ăn và hàng hóa của Nhật Bản và nhiều nước. "
            "Ngoài ra còn có trải nghiệm văn hóa, sân khấu giao lưu và trò chơi đóng dấu.",
            tl="May mga booth ng pagkain at paninda mula sa Japan at iba't ibang bansa. "
            "Mayroon ding karanasang pangkultura, palabas sa entablado at stamp rally.",
            tr="Japonya'dan ve birçok ülkeden yiyecek ve ürün stantları var. "
            "Kültür etkinlikleri, sahne gösterileri ve mühür toplama oyunu da var.",
            ne="जापान र विभिन्न देशका खाना तथा सामानका स्टलहरू हुन्छन्। "
            "संस्कृति अनुभव, स्टेज कार्यक्रम र स्ट्याम्प र्‍याली पनि हुन्छ।",
            id="Ada stan makanan dan barang dari Jepang dan berbagai negara. "
            "Ada juga pengalaman budaya, panggung pertunjukan, dan stamp rally.",
            th="มีร้านขายอาหารและสินค้าจากญี่ปุ่นและหลายประเทศ "
            "และยังมีกิจกรรมสัมผัสวัฒนธรรม เวทีการแสดง และแสตมป์แรลลี่",
            pt="Barracas do Japão e de vários países vendem comidas e produtos. "
            "Também há experiências culturais, apresentações no palco e um rali de carimbos.",
            es="Puestos de Japón y de muchos países venden comida y productos. "
            "También hay talleres culturales, espectáculos en el escenario y un rally de sellos.",
        ),
        venue=CUPOLA_PLAZA,
        starts_at=_at(day, 10),
        ends_at=_at(day, 16),
        categories=(
            Category(code="visitor", title=VISITOR, capacity=3000, max_party_size=6, reentry=True),
            booth_exhibitor,
            stage_performer,
            _slot("kimono", kimono, time(11, 0), capacity=12),
            _slot("calligraphy", calligraphy, time(13, 0), capacity=16),
            _slot("henna", henna, time(14, 30), capacity=10),
        ),
    )


def _colorful_festa(today: date) -> EventDraft:
    # The Saturday of Gender Equality Week (23-29 June).
    day = _next_date(today, 6, 23, SATURDAY)
    citizen_group_booth = Category(
        code="citizen_group_booth",
        title=_t(
            ja="市民団体のブース",
            en="Citizen group booth",
            zh="市民团体摊位",
            ko="시민 단체 부스",
            vi="Gian hàng của nhóm công dân",
            tl="Booth ng citizen group",
            tr="Sivil grup standı",
            ne="नागरिक समूहको स्टल",
            id="Stan kelompok warga",
            th="บูธกลุ่มประชาชน",
            pt="Barraca de grupo de cidadãos",
            es="Puesto de grupo ciudadano",
        ),
        capacity=20,
        review=True,
        description=REVIEW_NOTE,
        fields=(GROUP_NAME, ACTIVITY),
        closes_at=_at(day - timedelta(weeks=6), 17),
    )
    return EventDraft(
        slug=f"colorful-festa-{day.year}",
        kind="festa",
        title=_t(
            ja="カラフルふぇすた",
            en="Colorful Festa",
            zh="多彩节（Colorful Festa）",
            ko="컬러풀 페스타",
            vi="Lễ hội Colorful Festa",
            tl="Colorful Festa",
            tr="Colorful Festa (Renkli Festival)",
            ne="कलरफुल फेस्टा",
            id="Colorful Festa",
            th="คัลเลอร์ฟูล เฟสตา",
            pt="Colorful Festa (Festa Colorida)",
            es="Colorful Festa (Fiesta Colorida)",
        ),
        description=_t(
            ja="男女共同参画（だれもが自分らしく社会に参加できること）を知るイベントです。"
            "ボランティア団体や市民団体といっしょに開きます。",
            en="An event about gender equality, so that everyone can take part in society as "
            "they are. The city holds it together with volunteer and citizen groups.",
            zh="这是一个了解性别平等（人人都能以自己的方式参与社会）的活动。"
            "由市政府与志愿者团体和市民团体共同举办。",
            ko="남녀 공동 참여(누구나 자기답게 사회에 참여할 수 있는 것)에 대해 알아보는 "
            "행사입니다. 자원봉사 단체, 시민 단체와 함께 엽니다.",
            vi="Sự kiện tìm hiểu về bình đẳng giới, để ai cũng có thể tham gia xã hội theo cách "
            "của mình. Thành phố tổ chức cùng các nhóm tình nguyện và nhóm công dân.",
            tl="Isang pagtitipon tungkol sa pagkakapantay-pantay ng kasarian, para makalahok "
            "ang lahat sa lipunan. Idinaraos ito ng lungsod kasama ang mga volunteer at "
            "citizen group.",
            tr="Herkesin topluma kendisi gibi katılabilmesi için toplumsal cinsiyet eşitliğini "
            "anlatan bir etkinlik. Belediye, gönüllü ve sivil gruplarla birlikte düzenliyor.",
            ne="सबैजना आफ्नै तरिकाले समाजमा सहभागी हुन सकून् भनेर लैङ्गिक समानताबारे जान्ने "
            "कार्यक्रम हो। नगरले स्वयंसेवी तथा नागरिक समूहहरूसँग मिलेर आयोजना गर्छ।",
            id="Acara tentang kesetaraan gender, agar semua orang dapat berperan di masyarakat "
            "apa adanya. Kota mengadakannya bersama kelompok relawan dan kelompok warga.",
            th="งานเพื่อเรียนรู้เรื่องความเท่าเทียมทางเพศ ให้ทุกคนมีส่วนร่วมในสังคมได้อย่าง"
            "เป็นตัวของตัวเอง เมืองจัดงานร่วมกับกลุ่มอาสาสมัครและกลุ่มประชาชน",
            pt="Um evento sobre igualdade de gênero, para que todas as pessoas participem da "
            "sociedade do seu jeito. A prefeitura organiza com grupos de voluntários e cidadãos.",
            es="Un evento sobre la igualdad de género, para que todas las personas participen en "
            "la sociedad tal como son. La ciudad lo organiza con grupos de voluntarios y "
            "ciudadanos.",
        ),
        venue=CUPOLA_PLAZA,
        starts_at=_at(day, 10),
        ends_at=_at(day, 15),
        categories=(
            Category(
                code="participant",
                title=PARTICIPANT,
                capacity=500,
                max_party_size=4,
                reentry=True,
            ),
            citizen_group_booth,
        ),
    )


def _volunteer_fair(today: date) -> EventDraft:
    day = _next_date(today, 2, 8, SATURDAY)  # the second Saturday of February
    exhibitor = Category(
        code="exhibitor",
        title=_t(
            ja="出展する団体",
            en="Exhibiting group",
            zh="参展团体",
            ko="출전 단체",
            vi="Nhóm tham gia triển lãm",
            tl="Grupong magpapakita (exhibitor)",
            tr="Stant açan kuruluş",
            ne="प्रदर्शनी गर्ने समूह",
            id="Kelompok peserta pameran",
            th="กลุ่มที่ออกบูธ",
            pt="Grupo expositor",
            es="Grupo expositor",
        ),
        capacity=35,
        review=True,
        description=REVIEW_NOTE,
        fields=(
            ORGANISATION,
            _choice(
                "activity_field",
                _t(
                    ja="活動の分野",
                    en="Field of activity",
                    zh="活动领域",
                    ko="활동 분야",
                    vi="Lĩnh vực hoạt động",
                    tl="Larangan ng gawain",
                    tr="Faaliyet alanı",
                    ne="गतिविधिको क्षेत्र",
                    id="Bidang kegiatan",
                    th="สาขากิจกรรม",
                    pt="Área de atuação",
                    es="Área de actividad",
                ),
                {
                    "welfare": _t(
                        ja="福祉",
                        en="Welfare",
                        zh="福利",
                        ko="복지",
                        vi="Phúc lợi xã hội",
                        tl="Kapakanang panlipunan",
                        tr="Sosyal yardım",
                        ne="समाज कल्याण",
                        id="Kesejahteraan sosial",
                        th="สวัสดิการสังคม",
                        pt="Bem-estar social",
                        es="Bienestar social",
                    ),
                    "children": _t(
                        ja="子ども・子育て",
                        en="Children and parenting",
                        zh="儿童与育儿",
                        ko="아동·육아",
                        vi="Trẻ em và nuôi dạy con",
                        tl="Mga bata at pagpapalaki ng anak",
                        tr="Çocuklar ve ebeveynlik",
                        ne="बालबालिका र हुर्काइ",
                        id="Anak dan pengasuhan",
                        th="เด็กและการเลี้ยงดูบุตร",
                        pt="Crianças e criação dos filhos",
                        es="Niñez y crianza",
                    ),
                    "environment": _t(
                        ja="環境",
                        en="Environment",
                        zh="环境",
                        ko="환경",
                        vi="Môi trường",
                        tl="Kapaligiran",
                        tr="Çevre",
                        ne="वातावरण",
                        id="Lingkungan",
                        th="สิ่งแวดล้อม",
                        pt="Meio ambiente",
                        es="Medio ambiente",
                    ),
                    "international": _t(
                        ja="国際交流・多文化共生",
                        en="International exchange",
                        zh="国际交流与多元文化共生",
                        ko="국제 교류·다문화 공생",
                        vi="Giao lưu quốc tế, đa văn hóa",
                        tl="Pakikipag-ugnayang internasyonal",
                        tr="Uluslararası değişim",
                        ne="अन्तर्राष्ट्रिय आदानप्रदान",
                        id="Pertukaran internasional",
                        th="การแลกเปลี่ยนระหว่างประเทศ",
                        pt="Intercâmbio internacional",
                        es="Intercambio internacional",
                    ),
                    "disaster": _t(
                        ja="防災",
                        en="Disaster preparedness",
                        zh="防灾",
                        ko="방재",
                        vi="Phòng chống thiên tai",
                        tl="Paghahanda sa sakuna",
                        tr="Afete hazırlık",
                        ne="विपद् तयारी",
                        id="Kesiapsiagaan bencana",
                        th="การป้องกันภัยพิบัติ",
                        pt="Prevenção de desastres",
                        es="Prevención de desastres",
                    ),
                    "culture": _t(
                        ja="文化・スポーツ",
                        en="Culture and sports",
                        zh="文化与体育",
                        ko="문화·스포츠",
                        vi="Văn hóa, thể thao",
                        tl="Kultura at isports",
                        tr="Kültür ve spor",
                        ne="संस्कृति र खेलकुद",
                        id="Budaya dan olahraga",
                        th="วัฒนธรรมและกีฬา",
                        pt="Cultura e esporte",
                        es="Cultura y deporte",
                    ),
                    "other": OTHER,
                },
            ),
        ),
        closes_at=_at(day - timedelta(weeks=6), 17),
    )
    return EventDraft(
        slug=f"volunteer-fair-{day.year}",
        kind="volunteer_fair",
        title=_t(
            ja="ボランティア見本市",
            en="Volunteer Fair",
            zh="志愿者活动展示会",
            ko="자원봉사 박람회",
            vi="Hội chợ Tình nguyện",
            tl="Volunteer Fair",
            tr="Gönüllülük Fuarı",
            ne="स्वयंसेवा मेला",
            id="Pameran Relawan",
            th="งานแสดงกิจกรรมอาสาสมัคร",
            pt="Feira do Voluntariado",
            es="Feria del Voluntariado",
        ),
        description=_t(
            ja="川口のボランティア団体やNPOが、活動を紹介します。"
            "あなたにできることを見つけてください。",
            en="Volunteer groups and NPOs in Kawaguchi introduce their work. "
            "Find something you can do for your community.",
            zh="川口的志愿者团体和NPO将介绍他们的活动。来找找你能做的事情吧。",
            ko="가와구치의 자원봉사 단체와 NPO가 활동을 소개합니다. "
            "내가 할 수 있는 일을 찾아보세요.",
            vi="Các nhóm tình nguyện và tổ chức NPO ở Kawaguchi giới thiệu hoạt động của mình. "
            "Hãy tìm việc bạn có thể làm cho cộng đồng.",
            tl="Ipinakikilala ng mga volunteer group at NPO sa Kawaguchi ang kanilang mga gawain. "
            "Humanap ng maitutulong mo sa iyong komunidad.",
            tr="Kawaguchi'deki gönüllü grupları ve sivil toplum kuruluşları çalışmalarını "
            "tanıtıyor. Topluluğunuz için yapabileceğiniz bir şey bulun.",
            ne="कावागुचीका स्वयंसेवी समूह र गैरनाफामूलक संस्थाहरूले आफ्ना काम परिचय गराउँछन्। "
            "तपाईंले समुदायका लागि गर्न सक्ने काम खोज्नुहोस्।",
            id="Kelompok relawan dan NPO di Kawaguchi memperkenalkan kegiatan mereka. "
            "Temukan hal yang bisa Anda lakukan untuk lingkungan Anda.",
            th="กลุ่มอาสาสมัครและองค์กร NPO ในคาวางุจิจะแนะนำกิจกรรมของตน มาค้นหาสิ่งที่คุณทำได้เพื่อชุมชนกัน",
            pt="Grupos de voluntários e ONGs de Kawaguchi apresentam suas atividades. "
            "Descubra o que você pode fazer pela sua comunidade.",
            es="Grupos de voluntarios y ONG de Kawaguchi presentan sus actividades. "
            "Descubra qué puede hacer usted por su comunidad.",
        ),
        venue=PARTNER_STATION,
        starts_at=_at(day, 10),
        ends_at=_at(day, 15),
        categories=(
            Category(code="visitor", title=VISITOR, capacity=400, max_party_size=3),
            exhibitor,
        ),
    )


def _tax_pension_seminar(today: date) -> EventDraft:
    day = _next_date(today, 1, 22, SATURDAY)  # the fourth Saturday of January
    return EventDraft(
        slug=f"tax-pension-seminar-{day.year}",
        kind="seminar",
        title=_t(
            ja="税金と年金の講習会（外国人住民のための）",
            en="Tax and Pension Seminar for Foreign Residents",
            zh="面向外国居民的税金与年金讲座",
            ko="외국인 주민을 위한 세금·연금 강습회",
            vi="Lớp hướng dẫn về thuế và lương hưu dành cho cư dân nước ngoài",
            tl="Seminar tungkol sa Buwis at Pensiyon para sa mga Dayuhang Residente",
            tr="Yabancı Sakinler İçin Vergi ve Emeklilik Semineri",
            ne="विदेशी बासिन्दाका लागि कर र पेन्सन प्रशिक्षण",
            id="Seminar Pajak dan Pensiun untuk Warga Asing",
            th="การอบรมเรื่องภาษีและเงินบำนาญสำหรับชาวต่างชาติ",
            pt="Palestra sobre Impostos e Previdência para Residentes Estrangeiros",
            es="Charla sobre Impuestos y Pensiones para Residentes Extranjeros",
        ),
        description=_t(
            ja="住民税、国民健康保険税、年金のしくみを、やさしく説明します。"
            "通訳が必要な人は、申し込むときにことばを選んでください。",
            en="We explain resident tax, National Health Insurance tax and the pension system "
            "in simple words. If you need an interpreter, choose the language when you apply.",
            zh="用简单易懂的语言说明住民税、国民健康保险税和年金制度。"
            "如需翻译，请在报名时选择语言。",
            ko="주민세, 국민건강보험세, 연금 제도를 알기 쉽게 설명합니다. "
            "통역이 필요한 분은 신청할 때 언어를 선택해 주세요.",
            vi="Chúng tôi giải thích dễ hiểu về thuế cư trú, thuế bảo hiểm y tế quốc dân và "
            "chế độ lương hưu. Nếu cần phiên dịch, vui lòng chọn ngôn ngữ khi đăng ký.",
            tl="Ipapaliwanag namin nang simple ang resident tax, National Health Insurance tax "
            "at ang pensiyon. Kung kailangan mo ng interpreter, piliin ang wika sa pag-apply.",
            tr="Yerel sakin vergisi, Ulusal Sağlık Sigortası vergisi ve emeklilik sistemini "
            "basitçe anlatıyoruz. Tercüman gerekirse başvururken dili seçin.",
            ne="आवासीय कर, राष्ट्रिय स्वास्थ्य बीमा कर र पेन्सन प्रणालीबारे सजिलो भाषामा "
            "बुझाउँछौं। दोभाषे चाहिएमा आवेदन गर्दा भाषा छान्नुहोस्।",
            id="Kami menjelaskan pajak penduduk, pajak Asuransi Kesehatan Nasional, dan sistem "
            "pensiun dengan mudah. Jika perlu penerjemah, pilih bahasanya saat mendaftar.",
            th="อธิบายเรื่องภาษีผู้พักอาศัย ภาษีประกันสุขภาพแห่งชาติ และระบบเงินบำนาญอย่าง"
            "เข้าใจง่าย หากต้องการล่าม กรุณาเลือกภาษาตอนสมัคร",
            pt="Explicamos de forma simples o imposto de residente, o imposto do Seguro Nacional "
            "de Saúde e a previdência. Se precisar de intérprete, escolha o idioma na inscrição.",
            es="Explicamos de forma sencilla el impuesto de residentes, el impuesto del Seguro "
            "Nacional de Salud y las pensiones. Si necesita intérprete, elija el idioma al "
            "inscribirse.",
        ),
        venue=PARTNER_STATION,
        starts_at=_at(day, 14),
        ends_at=_at(day, 16),
        # A week's notice lets the city book the interpreters people asked for.
        registration_closes_at=_at(day - timedelta(days=7), 17),
        categories=(
            Category(
                code="participant",
                title=PARTICIPANT,
                capacity=60,
                max_party_size=2,
                fields=(INTERPRETER,),
            ),
        ),
    )


def _high_school_guidance(today: date) -> EventDraft:
    day = _next_date(today, 9, 24, SUNDAY)  # the last Sunday of September
    student_grade = _choice(
        "student_grade",
        _t(
            ja="子どもの学年",
            en="Child's school year",
            zh="孩子的年级",
            ko="자녀의 학년",
            vi="Lớp của con",
            tl="Baitang ng anak",
            tr="Çocuğun sınıfı",
            ne="बच्चाको कक्षा",
            id="Kelas anak",
            th="ชั้นเรียนของบุตร",
            pt="Ano escolar do filho ou filha",
            es="Año escolar del hijo o hija",
        ),
        {
            "jh3": _t(
                ja="中学3年生",
                en="3rd year of junior high school",
                zh="初中三年级",
                ko="중학교 3학년",
                vi="Năm 3 trung học cơ sở",
                tl="Ika-3 taon ng junior high school",
                tr="Ortaokul 3. sınıf",
                ne="जुनियर हाईस्कूल कक्षा ३",
                id="Kelas 3 SMP",
                th="มัธยมต้นปีที่ 3",
                pt="3º ano do chūgakkō (ensino fundamental II)",
                es="3.º de secundaria (chūgakkō)",
            ),
            "graduate": _t(
                ja="中学校を卒業した",
                en="Finished junior high school",
                zh="初中已毕业",
                ko="중학교 졸업",
                vi="Đã tốt nghiệp trung học cơ sở",
                tl="Nakapagtapos na ng junior high school",
                tr="Ortaokul mezunu",
                ne="जुनियर हाईस्कूल उत्तीर्ण",
                id="Sudah lulus SMP",
                th="จบมัธยมต้นแล้ว",
                pt="Já terminou o chūgakkō",
                es="Ya terminó la secundaria (chūgakkō)",
            ),
            "other": OTHER,
        },
    )
    return EventDraft(
        slug=f"high-school-guidance-{day.year}",
        kind="seminar",
        title=_t(
            ja="高校進学相談会（日本語が母語でない子どもと保護者のための）",
            en="High School Admission Guidance for Children Whose First Language Is Not "
            "Japanese, and Their Parents",
            zh="高中升学咨询会（面向母语不是日语的孩子及家长）",
            ko="고등학교 진학 상담회 (일본어가 모국어가 아닌 자녀와 보호자 대상)",
            vi="Buổi tư vấn học lên cấp 3 (dành cho trẻ em có tiếng mẹ đẻ không phải tiếng "
            "Nhật và phụ huynh)",
            tl="Konsultasyon sa Pagpasok sa High School (para sa mga batang hindi Hapon ang "
            "unang wika at kanilang mga magulang)",
            tr="Lise Eğitimi Danışma Günü (anadili Japonca olmayan çocuklar ve velileri için)",
            ne="हाईस्कूल भर्ना परामर्श कार्यक्रम (मातृभाषा जापानी नभएका बालबालिका र अभिभावकका लागि)",
            id="Konsultasi Masuk SMA (untuk anak yang bahasa ibunya bukan bahasa Jepang dan "
            "orang tuanya)",
            th="งานให้คำปรึกษาเรื่องการเรียนต่อมัธยมปลาย (สำหรับเด็กที่ภาษาแม่ไม่ใช่ภาษาญี่ปุ่นและผู้ปกครอง)",
            pt="Orientação sobre o Ingresso no Ensino Médio (para crianças cuja língua materna "
            "não é o japonês e seus responsáveis)",
            es="Orientación sobre el Ingreso a la Preparatoria (para niños cuya lengua materna "
            "no es el japonés y sus familias)",
        ),
        description=_t(
            ja="中学3年生と、中学校を卒業した人に、埼玉県の高校入試（公立・私立）を"
            "説明します。高校生の先輩の話も聞けます。",
            en="For 3rd-year junior high school students and graduates: we explain entrance "
            "exams for public and private high schools in Saitama. Current high school "
            "students also share their experience.",
            zh="面向初中三年级学生和已毕业者，说明埼玉县公立和私立高中的入学考试。"
            "还可以听在读高中生分享经验。",
            ko="중학교 3학년생과 졸업생에게 사이타마현 공립·사립 고등학교 입시를 설명합니다. "
            "현재 고등학생의 경험담도 들을 수 있습니다.",
            vi="Dành cho học sinh năm 3 trung học cơ sở và người đã tốt nghiệp: giải thích về "
            "kỳ thi vào trường cấp 3 công lập và tư thục ở Saitama. Học sinh cấp 3 cũng sẽ "
            "chia sẻ kinh nghiệm.",
            tl="Para sa mga estudyante sa ika-3 taon ng junior high school at mga nakapagtapos "
            "na: ipapaliwanag ang entrance exam sa pampubliko at pribadong high school sa "
            "Saitama. Magbabahagi rin ng karanasan ang mga high school student.",
            tr="Ortaokul 3. sınıf öğrencileri ve mezunlar için: Saitama'daki devlet ve özel "
            "liselerin giriş sınavlarını anlatıyoruz. Lise öğrencileri de deneyimlerini "
            "paylaşıyor.",
            ne="जुनियर हाईस्कूल कक्षा ३ का विद्यार्थी र उत्तीर्ण भइसकेकाहरूका लागि साइतामाका "
            "सरकारी र निजी हाईस्कूलको प्रवेश परीक्षाबारे बुझाउँछौं। हाईस्कूलका विद्यार्थीहरूले "
            "आफ्नो अनुभव पनि सुनाउँछन्।",
            id="Untuk siswa kelas 3 SMP dan lulusan SMP: kami menjelaskan ujian masuk SMA "
            "negeri dan swasta di Saitama. Siswa SMA juga akan berbagi pengalaman.",
            th="สำหรับนักเรียนชั้นมัธยมต้นปีที่ 3 และผู้ที่จบมัธยมต้นแล้ว อธิบายการสอบเข้า"
            "โรงเรียนมัธยมปลายรัฐและเอกชนในไซตามะ และมีนักเรียนมัธยมปลายมาเล่าประสบการณ์",
            pt="Para alunos do 3º ano do chūgakkō e quem já terminou: explicamos os exames de "
            "admissão às escolas de ensino médio públicas e particulares de Saitama. "
            "Estudantes do ensino médio também contam sua experiência.",
            es="Para estudiantes de 3.º de secundaria (chūgakkō) y egresados: explicamos los "
            "exámenes de ingreso a las preparatorias públicas y privadas de Saitama. "
            "Estudiantes de preparatoria también cuentan su experiencia.",
        ),
        venue=PARTNER_STATION,
        starts_at=_at(day, 13),
        ends_at=_at(day, 16, 30),
        registration_closes_at=_at(day - timedelta(days=7), 17),
        categories=(
            Category(
                code="family",
                title=_t(
                    ja="参加する家族（子どもと保護者）",
                    en="Family (child and parent or guardian)",
                    zh="参加家庭（孩子和家长）",
                    ko="참가 가족 (자녀와 보호자)",
                    vi="Gia đình tham gia (con và phụ huynh)",
                    tl="Pamilya (anak at magulang o tagapag-alaga)",
                    tr="Aile (çocuk ve veli)",
                    ne="परिवार (बालबालिका र अभिभावक)",
                    id="Keluarga (anak dan orang tua atau wali)",
                    th="ครอบครัว (บุตรและผู้ปกครอง)",
                    pt="Família (filho ou filha e responsável)",
                    es="Familia (hijo o hija y tutor)",
                ),
                capacity=80,
                max_party_size=3,
                fields=(student_grade, INTERPRETER),
            ),
        ),
    )


def _disaster_drill(today: date) -> EventDraft:
    # The Saturday of Disaster Prevention Week (30 August - 5 September).
    day = _next_date(today, 8, 30, SATURDAY)
    return EventDraft(
        slug=f"disaster-drill-{day.year}",
        kind="seminar",
        title=_t(
            ja="防災訓練講習会（外国人住民のための）",
            en="Disaster Preparedness Course for Foreign Residents",
            zh="面向外国居民的防灾训练讲习会",
            ko="외국인 주민을 위한 방재 훈련 강습회",
            vi="Lớp huấn luyện phòng chống thiên tai dành cho cư dân nước ngoài",
            tl="Pagsasanay sa Paghahanda sa Sakuna para sa mga Dayuhang Residente",
            tr="Yabancı Sakinler İçin Afete Hazırlık Eğitimi",
            ne="विदेशी बासिन्दाका लागि विपद् तयारी तालिम",
            id="Pelatihan Siaga Bencana untuk Warga Asing",
            th="การอบรมฝึกซ้อมรับมือภัยพิบัติสำหรับชาวต่างชาติ",
            pt="Curso de Prevenção de Desastres para Residentes Estrangeiros",
            es="Curso de Prevención de Desastres para Residentes Extranjeros",
        ),
        description=_t(
            ja="大きな地震のための準備と、地震のときにすることを学びます。"
            "起震車でゆれを体験して、非常食も食べてみます。",
            en="Learn how to get ready for a big earthquake and what to do when it comes. "
            "Feel the shaking in an earthquake simulator truck and try emergency food.",
            zh="学习如何为大地震做好准备，以及地震发生时该怎么做。"
            "可以在地震体验车上感受摇晃，还可以试吃应急食品。",
            ko="큰 지진에 대비하는 방법과 지진이 났을 때 해야 할 일을 배웁니다. "
            "지진 체험 차량에서 흔들림을 느껴 보고 비상식량도 먹어 봅니다.",
            vi="Học cách chuẩn bị cho động đất lớn và những việc cần làm khi động đất xảy ra. "
            "Bạn sẽ trải nghiệm rung lắc trên xe mô phỏng động đất và ăn thử thực phẩm khẩn cấp.",
            tl="Alamin kung paano maghanda sa malakas na lindol at ano ang gagawin kapag "
            "nangyari ito. Mararanasan mo ang pagyanig sa earthquake simulator truck at "
            "matitikman ang pagkaing pang-emergency.",
            tr="Büyük bir depreme nasıl hazırlanacağınızı ve deprem anında ne yapacağınızı "
            "öğrenin. Deprem simülasyon aracında sarsıntıyı hissedip acil durum yiyeceklerini "
            "tadabilirsiniz.",
            ne="ठूलो भूकम्पको तयारी कसरी गर्ने र भूकम्प आउँदा के गर्ने भनेर सिक्नुहोस्। "
            "भूकम्प अनुभव गराउने गाडीमा कम्पन महसुस गर्न र आपतकालीन खाना चाख्न सकिन्छ।",
            id="Pelajari cara bersiap menghadapi gempa besar dan apa yang harus dilakukan saat "
            "gempa terjadi. Rasakan guncangan di truk simulator gempa dan cicipi makanan darurat.",
            th="เรียนรู้วิธีเตรียมพร้อมรับแผ่นดินไหวครั้งใหญ่และสิ่งที่ต้องทำเมื่อเกิดแผ่นดินไหว "
            "ทดลองแรงสั่นในรถจำลองแผ่นดินไหวและชิมอาหารฉุกเฉิน",
            pt="Aprenda a se preparar para um grande terremoto e o que fazer quando ele "
            "acontecer. Sinta o tremor num caminhão simulador de terremoto e prove comida "
            "de emergência.",
            es="Aprenda a prepararse para un gran terremoto y qué hacer cuando ocurra. "
            "Sienta el temblor en un camión simulador de sismos y pruebe comida de emergencia.",
        ),
        venue=PARTNER_STATION,
        starts_at=_at(day, 13, 30),
        ends_at=_at(day, 16),
        registration_closes_at=_at(day - timedelta(days=7), 17),
        categories=(
            Category(
                code="participant",
                title=PARTICIPANT,
                capacity=50,
                max_party_size=4,
                fields=(INTERPRETER,),
            ),
        ),
    )


def demo_events(today: date) -> list[EventDraft]:
    """The programme for the coming year: each event's next occurrence after ``today``,
    in date order."""
    events = [
        _speech_contest(today),
        _multicultural_fair(today),
        _colorful_festa(today),
        _volunteer_fair(today),
        _tax_pension_seminar(today),
        _high_school_guidance(today),
        _disaster_drill(today),
    ]
    return sorted(events, key=lambda event: event.starts_at)

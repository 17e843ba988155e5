"""The demo programme's rallies (``TOMONI_DEMO=1``): the Multicultural Fair's stamp rally
(country booths, food and goods stalls, culture experiences, the stage and the
information desk; the eco-bags and mascot badges of the city's fair) and a smaller one for
the volunteer fair. Made once each demo event has reached this service over the bus."""

from __future__ import annotations

import asyncio
import logging

from services.stamprally import domain, repository
from shared.runtime import Runtime

logger = logging.getLogger("tomoni.stamprally")


# What visitors find at each booth of the fair, shown on the stamp card under its name.
ABOUT: dict[str, dict[str, str]] = {
    "info": {
        "ja": "会場の地図と、スタンプラリーの説明があります。困ったときは来てください。",
        "en": "Maps of the venue and help with the stamp rally. Come here if you need help.",
        "zh": "这里有会场地图和集章活动的说明。有困难时请来这里。",
        "ko": "행사장 지도와 스탬프 랠리 안내가 있습니다. 도움이 필요하면 여기로 오세요.",
        "vi": (
            "Có bản đồ khu vực sự kiện và hướng dẫn về stamp rally (sưu tập con dấu). "
            "Nếu cần giúp đỡ, hãy đến đây."
        ),
        "tl": (
            "May mapa ng lugar at paliwanag tungkol sa stamp rally. "
            "Pumunta rito kung kailangan mo ng tulong."
        ),
        "tr": (
            "Etkinlik alanının haritası ve damga rallisi hakkında bilgi burada. "
            "Yardıma ihtiyacınız olursa buraya gelin."
        ),
        "ne": "कार्यक्रम स्थलको नक्सा र स्ट्याम्प र्याली बारे जानकारी यहाँ छ। मद्दत चाहिएमा यहाँ आउनुहोस्।",
        "id": (
            "Ada peta lokasi acara dan penjelasan tentang stamp rally. "
            "Datanglah ke sini jika butuh bantuan."
        ),
        "th": "มีแผนที่ในงานและคำอธิบายเรื่องแสตมป์แรลลี่ ถ้าต้องการความช่วยเหลือ มาที่นี่ได้เลย",
        "pt": (
            "Aqui tem mapas do evento e explicações sobre o rali de carimbos. "
            "Se precisar de ajuda, venha aqui."
        ),
        "es": (
            "Aquí hay mapas del lugar y explicaciones sobre el rally de sellos. "
            "Si necesitas ayuda, ven aquí."
        ),
    },
    "stage": {
        "ja": "いろいろな国の歌やダンスを見ることができます。",
        "en": "Songs and dances from many countries.",
        "zh": "可以欣赏各国的歌曲和舞蹈。",
        "ko": "여러 나라의 노래와 춤을 볼 수 있습니다.",
        "vi": "Xem ca hát và nhảy múa của nhiều quốc gia.",
        "tl": "Mga awit at sayaw mula sa iba't ibang bansa.",
        "tr": "Birçok ülkeden şarkılar ve danslar.",
        "ne": "विभिन्न देशका गीत र नाच हेर्न सकिन्छ।",
        "id": "Lagu dan tarian dari berbagai negara.",
        "th": "ชมการร้องเพลงและการเต้นรำจากหลายประเทศ",
        "pt": "Músicas e danças de vários países.",
        "es": "Canciones y bailes de muchos países.",
    },
    "china": {
        "ja": "中国の文化や遊びを紹介します。",
        "en": "Chinese culture and traditional games.",
        "zh": "介绍中国的文化和传统游戏。",
        "ko": "중국의 문화와 전통 놀이를 소개합니다.",
        "vi": "Văn hóa và trò chơi truyền thống của Trung Quốc.",
        "tl": "Kultura at mga tradisyonal na laro ng Tsina.",
        "tr": "Çin kültürü ve geleneksel oyunlar.",
        "ne": "चिनियाँ संस्कृति र परम्परागत खेलहरू।",
        "id": "Budaya dan permainan tradisional Tiongkok.",
        "th": "วัฒนธรรมและการละเล่นพื้นบ้านของจีน",
        "pt": "Cultura chinesa e jogos tradicionais.",
        "es": "Cultura china y juegos tradicionales.",
    },
    "korea": {
        "ja": "韓国の文化を紹介します。民族衣装の写真もあります。",
        "en": "Korean culture, with photos of traditional clothes.",
        "zh": "介绍韩国文化，还有传统服装的照片。",
        "ko": "한국 문화를 소개합니다. 한복 사진도 있습니다.",
        "vi": "Văn hóa Hàn Quốc, có cả ảnh trang phục truyền thống.",
        "tl": "Kultura ng Korea, may mga larawan ng tradisyonal na kasuotan.",
        "tr": "Kore kültürü ve geleneksel kıyafet fotoğrafları.",
        "ne": "कोरियाली संस्कृति, परम्परागत पोसाकका फोटोहरू पनि छन्।",
        "id": "Budaya Korea, ada juga foto pakaian tradisional.",
        "th": "วัฒนธรรมเกาหลี พร้อมภาพชุดพื้นเมือง",
        "pt": "Cultura coreana, com fotos de roupas tradicionais.",
        "es": "Cultura coreana, con fotos de ropa tradicional.",
    },
    "vietnam": {
        "ja": "ベトナムの文化と、ふるさとの写真を紹介します。",
        "en": "Vietnamese culture and photos from home.",
        "zh": "介绍越南文化，还有家乡的照片。",
        "ko": "베트남 문화와 고향 사진을 소개합니다.",
        "vi": "Văn hóa Việt Nam và hình ảnh quê hương.",
        "tl": "Kultura ng Vietnam at mga larawan mula sa kanilang bayan.",
        "tr": "Vietnam kültürü ve memleketten fotoğraflar.",
        "ne": "भियतनामी संस्कृति र उनीहरूको जन्मभूमिका फोटोहरू।",
        "id": "Budaya Vietnam dan foto-foto dari kampung halaman.",
        "th": "วัฒนธรรมเวียดนามและภาพถ่ายจากบ้านเกิด",
        "pt": "Cultura vietnamita e fotos da terra natal.",
        "es": "Cultura vietnamita y fotos de su tierra natal.",
    },
    "philippines": {
        "ja": "フィリピンの文化や祭りを紹介します。",
        "en": "Filipino culture and festivals.",
        "zh": "介绍菲律宾的文化和节日。",
        "ko": "필리핀의 문화와 축제를 소개합니다.",
        "vi": "Văn hóa và lễ hội của Philippines.",
        "tl": "Kultura at mga pista ng Pilipinas.",
        "tr": "Filipin kültürü ve festivalleri.",
        "ne": "फिलिपिनी संस्कृति र चाडपर्वहरू।",
        "id": "Budaya dan festival Filipina.",
        "th": "วัฒนธรรมและเทศกาลของฟิลิปปินส์",
        "pt": "Cultura e festas das Filipinas.",
        "es": "Cultura y fiestas de Filipinas.",
    },
    "turkey": {
        "ja": "トルコの文化と、伝統的な模様を紹介します。",
        "en": "Turkish culture and traditional patterns.",
        "zh": "介绍土耳其文化和传统图案。",
        "ko": "튀르키예의 문화와 전통 문양을 소개합니다.",
        "vi": "Văn hóa và hoa văn truyền thống của Thổ Nhĩ Kỳ.",
        "tl": "Kultura ng Türkiye at mga tradisyonal na disenyo.",
        "tr": "Türk kültürü ve geleneksel desenler.",
        "ne": "टर्कीको संस्कृति र परम्परागत बुट्टाहरू।",
        "id": "Budaya Turki dan motif tradisional.",
        "th": "วัฒนธรรมตุรกีและลวดลายดั้งเดิม",
        "pt": "Cultura turca e desenhos tradicionais.",
        "es": "Cultura turca y diseños tradicionales.",
    },
    "nepal": {
        "ja": "ネパールの文化と、ヒマラヤの写真を紹介します。",
        "en": "Nepali culture and photos of the Himalayas.",
        "zh": "介绍尼泊尔文化，还有喜马拉雅山的照片。",
        "ko": "네팔의 문화와 히말라야 사진을 소개합니다.",
        "vi": "Văn hóa Nepal và hình ảnh dãy Himalaya.",
        "tl": "Kultura ng Nepal at mga larawan ng Himalayas.",
        "tr": "Nepal kültürü ve Himalaya fotoğrafları.",
        "ne": "नेपाली संस्कृति र हिमालका फोटोहरू।",
        "id": "Budaya Nepal dan foto-foto Pegunungan Himalaya.",
        "th": "วัฒนธรรมเนปาลและภาพเทือกเขาหิมาลัย",
        "pt": "Cultura nepalesa e fotos do Himalaia.",
        "es": "Cultura nepalí y fotos del Himalaya.",
    },
    "indonesia": {
        "ja": "インドネシアの文化や楽器を紹介します。",
        "en": "Indonesian culture and musical instruments.",
        "zh": "介绍印度尼西亚的文化和乐器。",
        "ko": "인도네시아의 문화와 악기를 소개합니다.",
        "vi": "Văn hóa và nhạc cụ của Indonesia.",
        "tl": "Kultura at mga instrumentong pangmusika ng Indonesia.",
        "tr": "Endonezya kültürü ve müzik aletleri.",
        "ne": "इन्डोनेसियाली संस्कृति र बाजाहरू।",
        "id": "Budaya dan alat musik Indonesia.",
        "th": "วัฒนธรรมและเครื่องดนตรีของอินโดนีเซีย",
        "pt": "Cultura indonésia e instrumentos musicais.",
        "es": "Cultura indonesia e instrumentos musicales.",
    },
    "thailand": {
        "ja": "タイの文化とあいさつを紹介します。",
        "en": "Thai culture and greetings.",
        "zh": "介绍泰国的文化和问候方式。",
        "ko": "태국의 문화와 인사말을 소개합니다.",
        "vi": "Văn hóa và cách chào hỏi của Thái Lan.",
        "tl": "Kultura ng Thailand at paraan ng pagbati.",
        "tr": "Tayland kültürü ve selamlaşma.",
        "ne": "थाई संस्कृति र अभिवादनका तरिकाहरू।",
        "id": "Budaya Thailand dan cara memberi salam.",
        "th": "วัฒนธรรมไทยและการทักทาย",
        "pt": "Cultura tailandesa e cumprimentos.",
        "es": "Cultura tailandesa y saludos.",
    },
    "brazil": {
        "ja": "ブラジルの文化や音楽を紹介します。",
        "en": "Brazilian culture and music.",
        "zh": "介绍巴西的文化和音乐。",
        "ko": "브라질의 문화와 음악을 소개합니다.",
        "vi": "Văn hóa và âm nhạc của Brazil.",
        "tl": "Kultura at musika ng Brazil.",
        "tr": "Brezilya kültürü ve müziği.",
        "ne": "ब्राजिलको संस्कृति र संगीत।",
        "id": "Budaya dan musik Brasil.",
        "th": "วัฒนธรรมและดนตรีของบราซิล",
        "pt": "Cultura e música do Brasil.",
        "es": "Cultura y música de Brasil.",
    },
    "peru": {
        "ja": "ペルーの文化や手作りの品を紹介します。",
        "en": "Peruvian culture and handicrafts.",
        "zh": "介绍秘鲁的文化和手工艺品。",
        "ko": "페루의 문화와 수공예품을 소개합니다.",
        "vi": "Văn hóa và đồ thủ công của Peru.",
        "tl": "Kultura at mga gawang-kamay ng Peru.",
        "tr": "Peru kültürü ve el sanatları.",
        "ne": "पेरुको संस्कृति र हस्तकलाका सामानहरू।",
        "id": "Budaya dan kerajinan tangan Peru.",
        "th": "วัฒนธรรมและงานหัตถกรรมของเปรู",
        "pt": "Cultura e artesanato do Peru.",
        "es": "Cultura y artesanía del Perú.",
    },
    "food-curry": {
        "ja": "ネパールのカレーを売っています。",
        "en": "Nepali curry for sale.",
        "zh": "出售尼泊尔咖喱。",
        "ko": "네팔 카레를 판매합니다.",
        "vi": "Bán cà ri Nepal.",
        "tl": "May mabibiling Nepali curry.",
        "tr": "Nepal körisi satılıyor.",
        "ne": "नेपाली तरकारी (करी) बिक्रीमा छ।",
        "id": "Menjual kari Nepal.",
        "th": "จำหน่ายแกงกะหรี่เนปาล",
        "pt": "Venda de curry nepalês.",
        "es": "Venta de curry nepalí.",
    },
    "food-pho": {
        "ja": "ベトナムのお米のめん、フォーを売っています。",
        "en": "Pho, Vietnamese rice noodle soup, for sale.",
        "zh": "出售越南河粉（越南米粉汤）。",
        "ko": "베트남 쌀국수 '포(Phở)'를 판매합니다.",
        "vi": "Bán phở Việt Nam.",
        "tl": "May mabibiling Phở, sabaw na may noodles na gawa sa bigas mula sa Vietnam.",
        "tr": "Vietnam pirinç eriştesi çorbası Phở satılıyor.",
        "ne": "भियतनामको चामलको चाउचाउ सुप, फो (Phở) बिक्रीमा छ।",
        "id": "Menjual Phở, sup mi beras khas Vietnam.",
        "th": "จำหน่ายเฝอ ก๋วยเตี๋ยวเส้นข้าวของเวียดนาม",
        "pt": "Venda de Phở, sopa vietnamita de macarrão de arroz.",
        "es": "Venta de Phở, sopa vietnamita de fideos de arroz.",
    },
    "food-kebab": {
        "ja": "トルコのケバブを売っています。",
        "en": "Turkish kebab for sale.",
        "zh": "出售土耳其烤肉（Kebab）。",
        "ko": "튀르키예 케밥을 판매합니다.",
        "vi": "Bán kebab Thổ Nhĩ Kỳ.",
        "tl": "May mabibiling Turkish kebab.",
        "tr": "Türk kebabı satılıyor.",
        "ne": "टर्कीको कबाब बिक्रीमा छ।",
        "id": "Menjual kebab Turki.",
        "th": "จำหน่ายเคบับตุรกี",
        "pt": "Venda de kebab turco.",
        "es": "Venta de kebab turco.",
    },
    "goods": {
        "ja": "いろいろな国の雑貨を売っています。",
        "en": "Small goods from many countries for sale.",
        "zh": "出售各国的小杂货。",
        "ko": "여러 나라의 잡화를 판매합니다.",
        "vi": "Bán các món đồ nhỏ từ nhiều quốc gia.",
        "tl": "May mabibiling maliliit na gamit mula sa iba't ibang bansa.",
        "tr": "Birçok ülkeden küçük eşyalar satılıyor.",
        "ne": "विभिन्न देशका साना सामानहरू बिक्रीमा छन्।",
        "id": "Menjual barang-barang kecil dari berbagai negara.",
        "th": "จำหน่ายของจุกจิกจากหลายประเทศ",
        "pt": "Venda de pequenos objetos de vários países.",
        "es": "Venta de pequeños artículos de muchos países.",
    },
    "calligraphy": {
        "ja": "筆で自分の名前を書いてみましょう。",
        "en": "Write your name with a brush.",
        "zh": "用毛笔写写自己的名字吧。",
        "ko": "붓으로 자신의 이름을 써 봅시다.",
        "vi": "Hãy thử viết tên mình bằng bút lông.",
        "tl": "Isulat ang iyong pangalan gamit ang brush.",
        "tr": "Fırçayla adınızı yazın.",
        "ne": "ब्रसले आफ्नो नाम लेखेर हेर्नुहोस्।",
        "id": "Tulis namamu dengan kuas.",
        "th": "ลองเขียนชื่อของคุณด้วยพู่กัน",
        "pt": "Escreva seu nome com pincel.",
        "es": "Escribe tu nombre con pincel.",
    },
    "kimono": {
        "ja": "着物を着て、写真をとることができます。",
        "en": "Put on a kimono and take a photo.",
        "zh": "可以穿上和服拍照。",
        "ko": "기모노를 입고 사진을 찍을 수 있습니다.",
        "vi": "Mặc thử kimono và chụp ảnh.",
        "tl": "Magsuot ng kimono at magpakuha ng litrato.",
        "tr": "Kimono giyip fotoğraf çektirebilirsiniz.",
        "ne": "किमोनो लगाएर फोटो खिच्न सकिन्छ।",
        "id": "Pakai kimono dan berfoto.",
        "th": "ลองสวมชุดกิโมโนและถ่ายรูปได้",
        "pt": "Vista um quimono e tire uma foto.",
        "es": "Ponte un kimono y tómate una foto.",
    },
    "henna": {
        "ja": "ヘナで手に模様をかきます。",
        "en": "Henna patterns drawn on your hand.",
        "zh": "用海娜（指甲花染料）在手上画图案。",
        "ko": "헤나로 손에 무늬를 그려 드립니다.",
        "vi": "Vẽ họa tiết henna lên tay bạn.",
        "tl": "Pagguhit ng disenyong henna sa iyong kamay.",
        "tr": "Elinize kınayla desen çizilir.",
        "ne": "हातमा मेहन्दीको बुट्टा बनाइन्छ।",
        "id": "Menggambar motif henna di tanganmu.",
        "th": "วาดลวดลายเฮนนาบนมือของคุณ",
        "pt": "Desenhos de henna feitos na sua mão.",
        "es": "Dibujos de henna en tu mano.",
    },
    "games": {
        "ja": "いろいろな国の子どもの遊びを体験できます。",
        "en": "Children's games from many countries to try.",
        "zh": "可以体验各国儿童的游戏。",
        "ko": "여러 나라의 어린이 놀이를 체험할 수 있습니다.",
        "vi": "Trải nghiệm trò chơi trẻ em của nhiều quốc gia.",
        "tl": "Subukan ang mga laro ng mga bata mula sa iba't ibang bansa.",
        "tr": "Birçok ülkeden çocuk oyunlarını deneyin.",
        "ne": "विभिन्न देशका बालबालिकाका खेलहरू खेलेर हेर्नुहोस्।",
        "id": "Coba permainan anak-anak dari berbagai negara.",
        "th": "ลองเล่นเกมของเด็กๆ จากหลายประเทศ",
        "pt": "Experimente brincadeiras infantis de vários países.",
        "es": "Prueba juegos infantiles de muchos países.",
    },
}


def _b(code: str, kind: str, ja: str, en: str, **more: str) -> domain.Booth:
    return domain.Booth(code, {"ja": ja, "en": en, **more}, kind, ABOUT.get(code, {}))


FAIR_BOOTHS = (
    _b("info", "info", "案内所", "Information desk", zh="咨询处", ko="안내소", vi="Quầy thông tin"),
    _b("stage", "stage", "ふれあいステージ", "Friendship stage", zh="交流舞台", ko="교류 무대"),
    _b("china", "country", "中国", "China", zh="中国", ko="중국", vi="Trung Quốc"),
    _b("korea", "country", "韓国", "Korea", zh="韩国", ko="한국", vi="Hàn Quốc"),
    _b("vietnam", "country", "ベトナム", "Vietnam", zh="越南", ko="베트남", vi="Việt Nam"),
    _b("philippines", "country", "フィリピン", "Philippines", tl="Pilipinas", ko="필리핀"),
    _b("turkey", "country", "トルコ", "Türkiye", tr="Türkiye", ko="튀르키예"),
    _b("nepal", "country", "ネパール", "Nepal", ne="नेपाल", ko="네팔"),
    _b("indonesia", "country", "インドネシア", "Indonesia", id="Indonesia", ko="인도네시아"),
    _b("thailand", "country", "タイ", "Thailand", th="ประเทศไทย", ko="태국"),
    _b("brazil", "country", "ブラジル", "Brazil", pt="Brasil", es="Brasil"),
    _b("peru", "country", "ペルー", "Peru", es="Perú", pt="Peru"),
    _b("food-curry", "food", "ネパールカレー", "Nepali curry", ne="नेपाली तरकारी"),
    _b("food-pho", "food", "フォー", "Pho", vi="Phở", zh="越南河粉"),
    _b("food-kebab", "food", "ケバブ", "Kebab", tr="Kebap"),
    _b("goods", "goods", "世界の雑貨", "Goods from around the world", zh="世界杂货"),
    _b("calligraphy", "culture", "書道体験", "Calligraphy", zh="书法体验", ko="서예 체험"),
    _b("kimono", "culture", "着物体験", "Try on a kimono", zh="和服体验", ko="기모노 체험"),
    _b("henna", "culture", "ヘナアート体験", "Henna art", ne="मेहन्दी", tr="Kına sanatı"),
    _b("games", "culture", "世界の遊び", "Games from around the world", ko="세계의 놀이"),
)

VOLUNTEER_BOOTHS = (
    _b("info", "info", "案内所", "Information desk"),
    _b("social-welfare", "organisation", "社会福祉協議会", "Council of Social Welfare"),
    _b("international", "organisation", "国際交流の会", "International exchange group"),
    _b("japanese-class", "organisation", "日本語教室", "Japanese class volunteers"),
    _b("disaster", "organisation", "防災ボランティア", "Disaster-relief volunteers"),
    _b("environment", "organisation", "環境を守る会", "Environment group"),
    _b("children", "organisation", "子ども食堂", "Children's cafeteria"),
    _b("elderly", "organisation", "高齢者の見守り", "Care for older neighbours"),
)

RALLIES = {
    "multicultural-fair-": domain.RallyDraft(
        title={"ja": "スタンプラリー", "en": "Stamp rally", "zh": "集章活动", "ko": "스탬프 랠리"},
        min_stamps=8,
        required_booths=("info", "stage"),
        booths=FAIR_BOOTHS,
        prizes=(
            domain.Prize("badge", {"ja": "マスコット缶バッジ", "en": "Mascot badge"}, 50),
            domain.Prize("eco-bag", {"ja": "エコバッグ", "en": "Eco bag"}, 300),
        ),
    ),
    "volunteer-fair-": domain.RallyDraft(
        title={"ja": "ボランティアスタンプラリー", "en": "Volunteer stamp rally"},
        min_stamps=5,
        required_booths=("info",),
        booths=VOLUNTEER_BOOTHS,
        prizes=(domain.Prize("badge", {"ja": "缶バッジ", "en": "Badge"}, 100),),
    ),
}


async def seed_when_known(rt: Runtime, save: object, timeout: float = 600.0) -> None:
    """Make each demo rally once its event is known here (events arrive over the bus)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    pending = dict(RALLIES)
    while pending and loop.time() < deadline:
        for prefix, draft in list(pending.items()):
            slug = await rt.pool.fetchval(
                "SELECT slug FROM events WHERE slug LIKE $1 ORDER BY starts_at LIMIT 1",
                prefix + "%",
            )
            if slug is None:
                continue
            if await repository.rally(rt.pool, slug) is None:
                await save(rt, slug, draft)  # type: ignore[operator]
                logger.info("demo rally made", extra={"event": slug})
            del pending[prefix]
        await asyncio.sleep(1.0)

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


def _b(code: str, kind: str, ja: str, en: str, **more: str) -> domain.Booth:
    return domain.Booth(code, {"ja": ja, "en": en, **more}, kind)


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

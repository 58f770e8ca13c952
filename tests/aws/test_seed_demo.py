"""The demo seed is idempotent: a second ``make run`` (or a restarted stack) seeds the running
emulator again and finds what the first made (README, Quick start)."""

from __future__ import annotations

import sys

from conftest import PRIMARY, ROOT


def test_a_second_seed_finds_the_estate_the_first_made(ctx, moto):
    sys.path.insert(0, str(ROOT / "scripts"))
    from seed_demo import Seeder

    first = Seeder(moto).run()
    images = ctx.client("ecr", PRIMARY).describe_images(repositoryName="orders/web")["imageDetails"]
    second = Seeder(moto).run()  # raised ImageAlreadyExistsException at PutImage before
    assert second == first
    again = ctx.client("ecr", PRIMARY).describe_images(repositoryName="orders/web")["imageDetails"]
    assert sorted(i["imageDigest"] for i in again) == sorted(i["imageDigest"] for i in images)
    assert len(again) == 2

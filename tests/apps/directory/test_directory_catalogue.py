"""The generated catalogue (causeway.apps.directory.catalogue): the same seed gives the same
catalogue; every department, category and resource keeps the directory's rules (codes, sizes,
required conditions, hashes of the chain's profile), at the benchmark's scale too."""

from __future__ import annotations

import datetime
import re

import pytest

from causeway.apps.directory import catalogue
from causeway.apps.directory.v1 import directory_pb2
from causeway.crypto import get_profile

DEPARTMENT_CODE = re.compile(r"[A-Z0-9]{2,32}")


def test_the_same_seed_gives_the_same_catalogue() -> None:
    departments = catalogue.city_departments()
    first = [r.metadata for r in catalogue.resources(departments, 50, seed=7)]
    again = [r.metadata for r in catalogue.resources(departments, 50, seed=7)]
    other = [r.metadata for r in catalogue.resources(departments, 50, seed=8)]
    assert first == again
    assert first != other


def test_the_scheme_lists_parents_before_children_with_levels_from_the_codes() -> None:
    seen: dict[str, directory_pb2.Category] = {}
    for category in catalogue.categories():
        if category.level == 1:
            assert not category.parent_code and len(category.code) <= 2
        else:
            parent = seen[category.parent_code]
            assert category.level == parent.level + 1
            assert (
                category.code.startswith(parent.code) and len(category.code) == len(parent.code) + 2
            )
        seen[category.code] = category
    assert {category.level for category in seen.values()} == {1, 2, 3}
    assert all(seen[code].level in (2, 3) for code in catalogue.ITEM_CODES)


def test_a_hundred_city_departments_and_sixteen_districts_have_unique_valid_codes() -> None:
    city = catalogue.city_departments(100)
    districts = [
        department
        for code, _, _ in catalogue.DISTRICTS
        for department in catalogue.district_departments(code, 10)
    ]
    assert len(catalogue.DISTRICTS) == 16
    everyone = city + districts
    codes = [department.code for department in everyone]
    assert len(codes) == len(set(codes)) == 100 + 160
    assert all(DEPARTMENT_CODE.fullmatch(code) for code in codes)
    organisations = [department.organisation for department in everyone]
    assert len(set(organisations)) == len(organisations)
    assert all(department.district for department in districts)
    assert not any(department.district for department in city)


@pytest.mark.parametrize("algorithm", ["SHA-256", "SM3"])
def test_every_resource_keeps_the_rules(algorithm: str) -> None:
    departments = catalogue.city_departments(100)
    sharing: set[int] = set()
    for resource in catalogue.resources(departments, 2_000, seed=3, hash_algorithm=algorithm):
        metadata = resource.metadata
        assert 1 <= len(metadata.name.encode()) <= 200
        assert len(metadata.abstract.encode()) <= 4_000
        assert 1 <= len(metadata.data_items) <= 200
        assert metadata.category_code in catalogue.ITEM_CODES
        assert set(metadata.duties) <= set(resource.department.duties)
        sharing.add(metadata.sharing_type)
        if metadata.sharing_type != directory_pb2.SHARING_TYPE_UNCONDITIONAL:
            assert metadata.sharing_conditions
        datetime.date.fromisoformat(metadata.publish_date)
        (distribution,) = metadata.distributions
        assert distribution.hash_algorithm == algorithm
        assert len(distribution.hash) == 32
        assert metadata.update_cycle in catalogue.UPDATE_CYCLES
    assert sharing == {
        directory_pb2.SHARING_TYPE_UNCONDITIONAL,
        directory_pb2.SHARING_TYPE_CONDITIONAL,
        directory_pb2.SHARING_TYPE_NOT_SHARED,
    }


@pytest.mark.parametrize(("algorithm", "profile"), [("SHA-256", "intl"), ("SM3", "gm")])
def test_a_distribution_hash_is_the_profiles_hash_of_its_content(
    algorithm: str, profile: str
) -> None:
    departments = catalogue.city_departments(3)
    hash_function = get_profile(profile).hash
    for number, resource in enumerate(
        catalogue.resources(departments, 30, seed=5, hash_algorithm=algorithm)
    ):
        (topic,) = [
            english
            for _, english, _ in catalogue.TOPICS
            if resource.metadata.name_en.endswith(english)
        ]
        content = catalogue.distribution_content(resource.department.code, number, topic)
        (distribution,) = resource.metadata.distributions
        assert distribution.hash == hash_function(content)
        assert distribution.byte_size == len(content)
    assert hash_function(b"x") != get_profile("intl" if profile == "gm" else "gm").hash(b"x")


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="neither SHA-256 nor SM3"):
        list(catalogue.resources(catalogue.city_departments(1), 1, hash_algorithm="MD5"))
    with pytest.raises(ValueError, match="at least one department"):
        list(catalogue.resources([], 1))

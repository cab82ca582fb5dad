"""Purchasing pools (``firms.pool_orders``): a sector's firms review together and order their new
tonnes for one lane and mode as one order, shared out in proportion to what each asked.

The world is tests/test_firms.py's: a Chinese mine with ample stock, one German line of 1 t of
magnets a day as two firms (half the plan each, covers of 10 and 30 days), reviewed daily
(order up to the firm's cover), no transit time, and no ban here. In steady state each firm orders
its own day's use, 0.5 t, every day."""

from types import SimpleNamespace

import pytest
import simpy
import yaml

from simulator import parse_scenario, run
from simulator.components.pooling import PooledLine
from simulator.components.sector import Sector

from test_firms import firm_world

TWO_FIRMS = {"count": 2, "cover_days": [10, 30]}
APPROVE_ALL_IN_5_DAYS = {"instrument": "licensing", "exporter": "CN", "materials": ["mag"], "reviewers": 1000,
                         "review_days": 5, "approval_probability": 1.0}


def pooling_world(pool: bool, controls=None) -> dict:
    data = firm_world({**TWO_FIRMS, "pool_orders": pool}, horizon_days=60)
    data["controls"] = controls or {}
    data["timeline"] = [{"date": "2025-01-11", "action": "impose", "control": name} for name in data["controls"]]
    return data


def go(data: dict):
    return run(parse_scenario(yaml.safe_dump(data, sort_keys=False), "pool.yaml", {}), seed=1, keep_model=True)


def shipments(result):
    return result.model.ledger.records.tables()["shipments"].to_frame()


@pytest.mark.parametrize("controls", [None, {"lic": APPROVE_ALL_IN_5_DAYS}], ids=["free", "licensed"])
def test_pooling_halves_the_orders_and_changes_no_firm_stock(controls):
    """Nothing in this world is random and every order is filled, licensed and delivered whole,
    so sharing a pooled delivery in proportion to the asks gives each firm exactly what it asked:
    the firms' daily production is identical with and without pooling, and so is every firm's
    stock. What changes is the count of orders: two firms asking every day make two orders a
    day alone and one together (the pooled order carries the sum, 1 t)."""
    alone, pooled = go(pooling_world(False, controls)), go(pooling_world(True, controls))
    assert pooled.tables["production_firms_daily"].equals(alone.tables["production_firms_daily"])
    firms_alone = {f.index: f.stock["mag"] for f in alone.model.facilities["de_line"].firms}
    firms_pooled = {f.index: f.stock["mag"] for f in pooled.model.facilities["de_line"].firms}
    assert firms_pooled == pytest.approx(firms_alone, abs=1e-9)
    n_alone, n_pooled = len(shipments(alone)), len(shipments(pooled))
    assert n_pooled < n_alone
    steady = shipments(pooled)
    steady = steady[steady["t_ordered"] >= 30]  # both firms order 0.5 t every day
    assert (steady.groupby("t_ordered").size() == 1).all()
    assert steady["tonnes"].to_numpy() == pytest.approx(1.0)
    if controls:  # one licence application per pooled shipment (no consignment size given)
        lic = pooled.licences
        assert len(lic) < len(alone.licences)


def test_a_pooled_delivery_is_shared_by_what_each_firm_asked():
    """A pooled order of 0.2 t asked by three firms (0.1, 0.06 and 0.04 t: fractions 1/2, 3/10,
    1/5) that brings 0.05 t gives them 0.025, 0.015 and 0.01 t: into each firm's stock and off
    its tonnes on order, and 0.05 t into the sector's stock; the last firm's part is what the
    others leave, so the parts sum to exactly what was delivered."""
    env = simpy.Environment()
    sector = Sector(env, "s", "DE", 0.0, {"mag": 1.0}, firms=[(0.5, 10.0), (0.3, 10.0), (0.2, 10.0)])
    lines = [firm.inputs["mag"] for firm in sector.firms]
    for line in lines:
        line.on_order_t = 0.0  # (so that what comes off it reads exactly)
    pooled = PooledLine([(lines[0], 0.1 / 0.2), (lines[1], 0.06 / 0.2), (lines[2], 0.04 / 0.2)], pool=None)
    lane = SimpleNamespace(material="mag")
    before = [firm.stock["mag"] for firm in sector.firms]
    sector_before = sector.stock["mag"]
    pooled.take_delivery(lane, 0.05, 3.0, True)
    received = [firm.stock["mag"] - b for firm, b in zip(sector.firms, before)]
    assert received == pytest.approx([0.025, 0.015, 0.01], abs=1e-15)
    assert [-line.on_order_t for line in lines] == pytest.approx([0.025, 0.015, 0.01], abs=1e-15)
    assert -lines[2].on_order_t == 0.05 - 0.05 * (0.1 / 0.2) - 0.05 * (0.06 / 0.2)  # the rest, exactly
    assert sector.stock["mag"] - sector_before == pytest.approx(0.05, abs=1e-15)


def test_a_denied_pooled_shipment_is_re_sourced_by_each_firm_for_its_share():
    """Every application denied after a 5-day review from 11 January (day 10): a pooled
    shipment comes back, each firm is told of its share (its tonnes on order fall by it) and
    re-orders that share at once on its own (the lane is retried after a decision that took
    time), so later orders are the firms' own and the books close (the run checks the mass
    balance). The firms' positions stay consistent: on order never negative, and the sector's
    view is the sum of the firms'."""
    deny_all = {**APPROVE_ALL_IN_5_DAYS, "approval_probability": 0.0}
    result = go(pooling_world(True, {"lic": deny_all}))
    sector = result.model.facilities["de_line"]
    on_order = [f.inputs["mag"].on_order_t for f in sector.firms]
    assert min(on_order) >= -1e-9
    assert sector.inputs["mag"].on_order_t == pytest.approx(sum(on_order))
    sh = shipments(result)
    assert (sh["outcome"] == "denied").any()
    denied_pooled = sh[(sh["outcome"] == "denied") & (sh["tonnes"] > 0.75)]
    assert len(denied_pooled) > 0  # pooled shipments (1 t) were denied, not only firms' own


@pytest.mark.parametrize("rule", [None, 5], ids=["no rule", "cancel after 5 days"])
def test_a_pool_withdraws_pooled_orders_left_unfilled(rule):
    """The mine makes nothing and has nothing from the start, so no order is ever filled. The
    firms' first pooled order (day 0) then stays open for the whole run without a withdrawal
    rule; with ``cancel_backlog_after_days: 5`` the pool withdraws each pooled order once a
    supplier has left it unfilled for more than 5 days and the firms re-source it (the lane is
    avoided, so the next reviews order again), so no open order, pooled or a firm's own, is
    older than 5 days plus one daily review when the run ends."""
    data = pooling_world(True)
    data["facilities"]["cn_mine"].update(capacity_t_per_year=0, initial_stock_t=0)
    if rule is not None:
        data["facilities"]["de_line"]["cancel_backlog_after_days"] = rule
    result = go(data)
    sector = result.model.facilities["de_line"]
    end = result.model.env.now
    open_orders = [*sector.pools["mag"].open_orders, *(o for f in sector.firms for o in f.inputs["mag"].open_orders)]
    ages = [end - order.t_ordered for order in open_orders if order.remaining_t > 0]
    assert ages  # orders are open (pooled, or a firm's own re-orders)
    if rule is None:
        assert max(ages) >= 60  # the first order, placed before the horizon, is still open
    else:
        assert max(ages) <= rule + 1


def test_the_pools_written_out_review_gives_the_same_files(monkeypatch):
    """A pool reviews a firm's line with nothing to re-order through PurchasingPool._review_line,
    InputLine.review and InputLine.order written out. On licensing_2025 (twelve sectors of six
    firms, two lanes each, adaptive cover, pre-buying, expediting, and denials that send firms'
    re-orders down the general path) sending every firm through InputLine.review instead gives
    identical tables and headline: the written-out review is an economy, not a rule."""
    from pandas.testing import assert_frame_equal

    from simulator import load_scenario
    from simulator.components.pooling import PurchasingPool

    scenario = load_scenario("licensing_2025")
    written_out = []
    fast_review = PurchasingPool._review_line
    monkeypatch.setattr(PurchasingPool, "_review_line", lambda self, line: written_out.append(1) or fast_review(self, line))
    fast = run(scenario, seed=4)
    monkeypatch.setattr(PurchasingPool, "_review_line", lambda self, line: line.review())
    general = run(scenario, seed=4)
    assert len(written_out) > 1000
    assert fast.headline == general.headline
    for name, table in fast.tables.items():
        assert_frame_equal(table, general.tables[name], check_exact=True, obj=name)

"""IF-NAS's L-chain space: Table 1's counts, the interleaving predicate on hand-drawn cases, and
the property that no interleaving-free sub-supernet holds an interleaved pair."""

from __future__ import annotations

import pytest

from bench_toolkit.cli import main
from bench_toolkit.spaces.darts import count_genotypes
from bench_toolkit.spaces.lchain import (
    connections, count_architectures, count_interleaved, group_of, interleaved, sub_supernet,
)


@pytest.mark.parametrize("L, published", [(4, "1.8e+116"), (6, "7.5e+163"), (8, "1.6e+204")])
def test_counts_are_table_1s(L, published):
    assert f"{count_architectures(L):.1e}" == published


def test_darts_count_is_table_1s_and_a_small_lchain_is_counted_by_hand():
    assert f"{count_genotypes():.1e}" == "1.1e+18"
    # L = 2, one stage of 4 nodes: node 1 reads node 0 (2 op-links: 3 patterns), nodes 2 and 3
    # read two nodes each (4 op-links: 15 patterns)
    assert count_architectures(2, (4,)) == 3 * 15 * 15
    with pytest.raises(ValueError, match="below every stage's node count"):
        count_architectures(4, (4,))


def test_interleaving_on_hand_drawn_cases():
    # Fig. 1: a node 7 choosing among its pre-1, pre-3 and pre-6 inputs; the added connections
    assert interleaved((3, 7), (1, 6))  # spans (3, 7) and (1, 6) overlap
    assert interleaved((1, 4), (2, 6)) and interleaved((2, 6), (1, 4))  # symmetric
    assert interleaved((1, 5), (2, 4))  # nested spans overlap too
    assert not interleaved((1, 3), (3, 5))  # spans touch at a node: no d + 1/2 in both
    assert not interleaved((6, 7), (1, 9))  # pre-1 connections are excluded
    assert not interleaved((1, 7), (4, 7))  # two candidates of the same node are not interleaved
    assert count_interleaved([(1, 4), (2, 6), (3, 7), (6, 7)]) == 3


def test_groups_partition_the_nodes_by_index_modulo_l():
    assert [group_of(n, 4) for n in range(9)] == [0, 1, 2, 3, 0, 1, 2, 3, 0]
    with pytest.raises(ValueError, match="group must be in 0..3"):
        sub_supernet(10, 4, 4)


@pytest.mark.parametrize("L", range(2, 9))
@pytest.mark.parametrize("n", [10, 18, 20])
def test_no_sub_supernet_holds_an_interleaved_pair_and_together_they_hold_every_connection(L, n):
    subs = [sub_supernet(n, L, group) for group in range(L)]
    assert all(count_interleaved(sub) == 0 for sub in subs)
    assert set().union(*map(set, subs)) == set(connections(n, L))
    assert count_interleaved(connections(n, L)) > 0  # the whole supernet does interleave: (0, 2) and (1, 3) already


def test_cli_prints_the_count(capsys):
    assert main(["space", "lchain", "--L", "6"]) == 0
    assert "7.46e+163 architectures" in capsys.readouterr().out
    assert main(["space", "lchain", "--L", "4", "--stages", "18,x"]) == 2


# -- architectures: text form, nodes in use, depth; networks and their multiply-adds --------------

from bench_toolkit.errors import BenchToolkitError  # noqa: E402
from bench_toolkit.spaces.lchain import LChainArch, arch_from_rows, parse_arch, row_names, stage_connections  # noqa: E402

SEP, SKIP = "sep_conv_3x3", "skip_connect"
# one stage of 5 nodes (L = 3): node 1 <- 0; node 2 <- 0; node 3 <- 1; node 4 <- 2 and 3.
# Longest path 0 -> 1 -> 3 -> 4: 3 connections.
STAGE = (((SEP, 0),), ((SKIP, 0),), ((SEP, 1),), ((SEP, 2), (SKIP, 3)))


def test_text_form_round_trips_and_bad_text_is_one_line():
    arch = LChainArch(3, (STAGE, STAGE, STAGE))
    assert parse_arch(str(arch)) == arch
    assert str(arch).startswith("LChain(L=3, stages=[[[('sep_conv_3x3', 0)], [('skip_connect', 0)]")
    with pytest.raises(BenchToolkitError, match="written LChain"):
        parse_arch("Genotype(normal=[])")
    with pytest.raises(BenchToolkitError, match="source 0 is not one of its 3 predecessors 1..3"):
        parse_arch("LChain(L=3, stages=[[[('sep_conv_3x3', 0)], [], [], [('sep_conv_3x3', 0)]]])")
    with pytest.raises(BenchToolkitError, match="unknown op 'conv'"):
        LChainArch(2, ((((("conv", 0),),)),))


def test_depth_and_nodes_in_use_by_hand():
    arch = LChainArch(3, (STAGE,))
    assert arch.depth() == 3
    # node 1 now feeds nothing (node 3 reads node 2): dropped, and the longest path is 0 -> 2 -> 3 -> 4
    dropped = LChainArch(3, ((((SEP, 0),), ((SKIP, 0),), ((SEP, 2),), ((SEP, 2), (SKIP, 3))),))
    assert dropped.used().stages[0][0] == () and dropped.depth() == 3
    assert LChainArch(3, ((((SEP, 0),), ((SKIP, 0), (SEP, 1)), ((SEP, 0),), ((SEP, 1),)),)).depth() == 2
    # the connections in use: (0,1), (0,2), (1,3), (2,4), (3,4); (0,2)/(1,3) interleave, and (1,3)/(2,4)
    assert arch.links() == [[(0, 1), (0, 2), (1, 3), (2, 4), (3, 4)]]
    assert arch.interleaved_pairs() == 2


def test_rows_follow_the_connections_and_derive_the_live_ops():
    stages, L = (4, 3, 3), 2
    assert row_names(stages, L)[:3] == ("s1.0->1", "s1.0->2", "s1.1->2")
    assert len(row_names(stages, L)) == sum(len(s) for s in stage_connections(stages, L)) == 5 + 3 + 3
    alive = [[True, True]] * 11
    alive[0] = [False, False]  # s1.0->1 gone: node 1 has no input, so s1.1->2 and s1.1->3 read nothing
    arch = arch_from_rows(stages, L, alive)
    assert arch.stages[0][0] == () and arch.stages[0][2] == ((SEP, 2), (SKIP, 2))
    assert arch.stages[1] == (((SEP, 0), (SKIP, 0)), ((SEP, 0), (SKIP, 0), (SEP, 1), (SKIP, 1)))


def test_multiply_adds_table_matches_the_flop_counter_and_a_hand_count():
    import numpy as np

    from bench_toolkit.nn.lchain_network import LChainNetwork, MaddsTable, madds

    stages, L, c = (6, 6, 6), 3, 8
    table = MaddsTable(stages, L, c, 10, "cifar", 16)
    # a DARTS sep_conv_3x3 is two (depthwise 3x3 + pointwise 1x1) at C = 8 on 16 x 16
    assert table.per_sep_conv[0] == 2 * (9 * c * 16 * 16 + c * c * 16 * 16)
    rng = np.random.default_rng(0)
    rows = len(row_names(stages, L))
    for _ in range(3):
        alive = rng.random((rows, 2)) < 0.5
        pre1 = [k for k, name in enumerate(row_names(stages, L)) if int(name.split("->")[1]) - int(name.split(".")[1].split("->")[0]) == 1]
        alive[pre1, 1] = True  # every node keeps an input
        arch = arch_from_rows(stages, L, alive)
        assert table(arch) == madds(LChainNetwork(arch, c, 10), 16)

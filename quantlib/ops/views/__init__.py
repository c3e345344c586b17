"""Operations views: the dispatch plan (:mod:`.dispatch`), the workforce plan (:mod:`.workforce`) and
the operations figures of the monthly and weekly reports (:mod:`.reports`), with their notebook
parameters."""

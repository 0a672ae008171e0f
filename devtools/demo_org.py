"""A demo province's organisation as an import file, for the demo and for tests.

Written as the CSV that ``hailong org import`` reads, so the demo exercises
the same path a real province uses. Fixed data, no randomness: the demo and
its tests see the same codes every run.
"""

import csv

PROVINCE = ("DN", "UBND tỉnh Đồng Nai")

# (unit code, unit name, parent code, counters, staff)
# counters: (code suffix, name); staff: (code, full name, title)
UNITS = [
    (
        "DN-TTHCC",
        "Trung tâm Phục vụ hành chính công tỉnh",
        "DN",
        [
            ("Q1", "Quầy 1 – Đất đai"),
            ("Q2", "Quầy 2 – Đăng ký kinh doanh"),
            ("Q3", "Quầy 3 – Xây dựng"),
        ],
        [
            ("NV001", "Nguyễn Thị Hồng Nhung", "Chuyên viên"),
            ("NV002", "Trần Văn Minh", "Chuyên viên chính"),
            ("NV003", "Lê Thị Thu Hà", "Cán bộ một cửa"),
            ("NV004", "Phạm Quốc Bảo", "Cán bộ một cửa"),
            ("NV005", "Hoàng Thị Mai Anh", "Phó Giám đốc Trung tâm"),
        ],
    ),
    (
        "DN-BH",
        "Bộ phận Một cửa UBND thành phố Biên Hòa",
        "DN",
        [
            ("Q1", "Quầy 1 – Đất đai"),
            ("Q2", "Quầy 2 – Hộ tịch"),
            ("Q3", "Quầy 3 – Lao động, thương binh"),
        ],
        [
            ("NV011", "Võ Minh Tuấn", "Chuyên viên"),
            ("NV012", "Đặng Thị Ngọc Trâm", "Cán bộ một cửa"),
            ("NV013", "Bùi Văn Hải", "Cán bộ một cửa"),
            ("NV014", "Đỗ Thị Kim Oanh", "Chuyên viên"),
            ("NV015", "Huỳnh Thanh Phong", "Cán bộ một cửa"),
            ("NV016", "Ngô Thị Bích Ngọc", "Chuyên viên"),
        ],
    ),
    (
        "DN-BH-TH",
        "Bộ phận Một cửa UBND phường Tân Hiệp",
        "DN-BH",
        [("Q1", "Quầy 1 – Tư pháp, hộ tịch"), ("Q2", "Quầy 2 – Địa chính, xây dựng")],
        [
            ("NV021", "Dương Văn Lực", "Công chức Tư pháp – Hộ tịch"),
            ("NV022", "Lý Thị Thanh Hương", "Công chức Địa chính – Xây dựng"),
            ("NV023", "Phan Anh Dũng", "Cán bộ một cửa"),
            ("NV024", "Trịnh Thị Lan", "Cán bộ một cửa"),
        ],
    ),
]


def write_demo_org(path):
    """Write the demo province as an import CSV at ``path``; return its codes.

    Returns ``{"counters": [codes], "staff_by_unit": {unit: [codes]},
    "unit_of_counter": {counter: unit}}`` so the demo can enroll tablets and
    pick staff without reading the database back.
    """
    rows = [("unit", PROVINCE[0], PROVINCE[1], "", "", "yes")]
    result = {"counters": [], "staff_by_unit": {}, "unit_of_counter": {}}
    for unit, name, parent, counters, staff in UNITS:
        rows.append(("unit", unit, name, parent, "", "yes"))
        for suffix, counter_name in counters:
            code = f"{unit}-{suffix}"
            rows.append(("counter", code, counter_name, unit, "", "yes"))
            result["counters"].append(code)
            result["unit_of_counter"][code] = unit
        for code, full_name, title in staff:
            rows.append(("staff", code, full_name, unit, title, "yes"))
            result["staff_by_unit"].setdefault(unit, []).append(code)
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(("kind", "code", "name", "parent", "title", "active"))
        writer.writerows(rows)
    return result

"""Product and equipment specifications, two sibling models per series
(KX-310A and KX-310B) that share most of their text and differ in a few
figures."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable

from .boilerplate import spec_extra
from .doc import Doc
from .world import EN_ORGS, ZH_ORGS, World


@dataclass
class Param:
    label: str
    draw: Callable[[random.Random], str]
    literal: str  # question with {model}
    paraphrase: str


def _rng(lo: int, hi: int, step: int = 1, unit: str = "") -> Callable[[random.Random], str]:
    return lambda r: f"{r.randrange(lo, hi + 1, step)}{unit}"


def _of(values: list[str]) -> Callable[[random.Random], str]:
    return lambda r: r.choice(values)


@dataclass
class Series:
    product: str
    use: str
    features: list[str]
    params: dict[str, Param]
    service: tuple[str, Callable[[random.Random], str]]  # sentence with {value} and {part}; how to draw the value
    accessory: str


EN_SERIES = [
    Series("industrial dehumidifier", "warehouses, plant rooms and basements where condensation damages stock and buildings",
           ["Refrigerant circuit with hot-gas defrost for operation down to low temperatures",
            "Built-in humidistat and hour meter", "Steel housing with powder-coated finish and transport wheels"],
           {"extraction": Param("Extraction capacity (30 °C, 80% RH)", _rng(30, 96, 2, " L/day"),
                                "What is the extraction capacity of the {model}?", "How much water can the {model} pull out of damp air in 24 hours?"),
            "airflow": Param("Airflow", _rng(400, 1600, 50, " m³/h"), "What is the airflow of the {model}?", "How many cubic metres of air does the {model} move per hour?"),
            "power": Param("Rated power", _rng(550, 1800, 10, " W"), "What is the rated power of the {model}?", "How much electricity does the {model} draw when running?"),
            "weight": Param("Weight", _rng(38, 95, 1, " kg"), "What does the {model} weigh?", "How heavy is the {model} dehumidifier to lift?"),
            "noise": Param("Sound pressure at 1 m", _rng(48, 64, 1, " dB(A)"), "What is the sound pressure of the {model}?", "How loud is the {model} from a metre away?")},
           ("Clean the air filter every {value} operating hours and replace it once a year with part {part}.", _of(["250", "400", "500", "750"])),
           "Condensate pump kit"),
    Series("handheld barcode scanner", "goods-in, picking and stock counts in warehouses and stores",
           ["Reads 1D and 2D codes, including damaged and low-contrast labels", "Hot-swappable battery",
            "Bluetooth 5 and USB-C connection to tablets and terminals"],
           {"rate": Param("Scan rate", _rng(60, 120, 5, " scans/s"), "What is the scan rate of the {model}?", "How many barcodes per second can the {model} read?"),
            "battery": Param("Battery", _rng(2400, 5200, 100, " mAh"), "What battery capacity does the {model} have?", "How big is the power pack in the {model}?"),
            "runtime": Param("Battery life", _rng(10, 22, 1, " hours"), "What is the battery life of the {model}?", "How long does the {model} last on one charge?"),
            "drop": Param("Drop resistance", _of(["1.2 m to concrete", "1.5 m to concrete", "1.8 m to concrete", "2.4 m to concrete"]),
                          "What drop resistance does the {model} have?", "From what height can I drop the {model} on the floor without breaking it?"),
            "ip": Param("Ingress protection", _of(["IP54", "IP65", "IP67"]), "What is the IP rating of the {model}?", "Can the {model} cope with rain and dust, and how well is it sealed?"),
            "weight": Param("Weight with battery", _rng(180, 420, 5, " g"), "What does the {model} weigh with its battery?", "How light is the {model} in the hand?")},
           ("Replace the battery after {value} charge cycles; order part {part}.", _of(["300", "500", "800"])),
           "Charging cradle"),
    Series("uninterruptible power supply", "server rooms, network cabinets and laboratory instruments that must ride through power cuts",
           ["Online double-conversion design with pure sine-wave output", "Hot-swappable battery packs",
            "Network management card with email alerts and automatic shutdown of servers"],
           {"va": Param("Rated output", _of(["1000 VA / 900 W", "1500 VA / 1350 W", "2000 VA / 1800 W", "3000 VA / 2700 W", "6000 VA / 5400 W", "10000 VA / 9000 W"]),
                        "What is the rated output of the {model}?", "How big a load can the {model} carry?"),
            "runtime": Param("Runtime at full load", _rng(4, 15, 1, " minutes"), "What is the runtime at full load of the {model}?", "If the mains fails with the {model} fully loaded, how long do the servers stay up?"),
            "recharge": Param("Recharge time to 90%", _rng(3, 8, 1, " hours"), "What is the recharge time of the {model}?", "After an outage, how long until the {model} batteries are almost full again?"),
            "input": Param("Input voltage range", _of(["160 to 280 V", "176 to 276 V", "120 to 300 V"]), "What is the input voltage range of the {model}?", "How low can the mains voltage sag before the {model} switches to battery?"),
            "weight": Param("Weight", _rng(12, 95, 1, " kg"), "What does the {model} weigh?", "How heavy is the {model} to carry into the comms room?")},
           ("Replace the battery packs every {value} years, or sooner if the self-test reports a fault; the replacement pack is part {part}.", _of(["3", "4", "5"])),
           "Extended battery module"),
    Series("rotary screw air compressor", "production lines, paint shops and workshops that need a steady supply of compressed air",
           ["Direct-drive airend with variable-speed motor", "Integrated refrigerated dryer", "Touch-screen controller with remote monitoring"],
           {"fad": Param("Free air delivery at 7 bar", _rng(800, 4200, 50, " L/min"), "What is the free air delivery of the {model}?", "How much compressed air per minute does the {model} produce?"),
            "pressure": Param("Maximum working pressure", _of(["8 bar", "10 bar", "13 bar"]), "What is the maximum working pressure of the {model}?", "How hard can the {model} push the air, at most?"),
            "motor": Param("Motor power", _of(["5.5 kW", "7.5 kW", "11 kW", "15 kW", "18.5 kW", "22 kW"]), "What is the motor power of the {model}?", "How strong is the electric motor that drives the {model}?"),
            "noise": Param("Noise level", _rng(62, 74, 1, " dB(A)"), "What is the noise level of the {model}?", "How much racket does the {model} make?"),
            "tank": Param("Receiver tank", _of(["270 L", "500 L", "no tank (base-mounted)"]), "What receiver tank does the {model} have?", "How much air can the {model} store?")},
           ("Change the oil and oil filter every {value} running hours; the service kit is part {part}.", _of(["2000", "3000", "4000"])),
           "Inline water separator"),
    Series("thermal transfer label printer", "shipping labels, product labels and compliance marking in dispatch areas",
           ["Cast metal frame and bi-fold cover", "Ethernet, USB and Wi-Fi", "Automatic media calibration"],
           {"dpi": Param("Print resolution", _of(["203 dpi", "300 dpi", "600 dpi"]), "What is the print resolution of the {model}?", "How sharp is the print from the {model}?"),
            "speed": Param("Maximum print speed", _rng(102, 356, 2, " mm/s"), "What is the maximum print speed of the {model}?", "How fast can the {model} turn out labels?"),
            "width": Param("Maximum print width", _of(["104 mm", "108 mm", "168 mm", "216 mm"]), "What is the maximum print width of the {model}?", "What is the widest label the {model} can print on?"),
            "roll": Param("Maximum media roll diameter", _of(["127 mm", "152 mm", "203 mm"]), "What is the maximum media roll diameter of the {model}?", "How large a reel of labels fits in the {model}?")},
           ("Clean the printhead with an isopropyl pen after every {value} ribbon changes; a replacement printhead is part {part}.", _of(["1", "2", "5"])),
           "Peeler and liner take-up"),
    Series("managed network switch", "access layer of office and warehouse networks, powering phones, cameras and wireless access points",
           ["Layer 3 static routing and VLANs", "Stacking of up to eight units", "Fanless operation below 30 °C"],
           {"ports": Param("Access ports", _of(["24 x 1 GbE", "48 x 1 GbE", "24 x 2.5 GbE", "48 x 2.5 GbE"]), "How many access ports does the {model} have?", "How many devices can I plug into the {model}?"),
            "poe": Param("PoE power budget", _of(["370 W", "740 W", "960 W", "1440 W"]), "What is the PoE power budget of the {model}?", "How much power can the {model} feed to cameras and access points?"),
            "uplinks": Param("Uplinks", _of(["4 x 10G SFP+", "4 x 25G SFP28", "2 x 40G QSFP+"]), "What uplinks does the {model} have?", "How does the {model} connect upstream to the core?"),
            "capacity": Param("Switching capacity", _rng(128, 880, 8, " Gbps"), "What is the switching capacity of the {model}?", "What total throughput can the {model} handle?")},
           ("Firmware updates are provided for {value} years after the end of sale; the rack-mount kit is part {part}.", _of(["5", "7", "10"])),
           "Redundant power supply"),
    Series("electric pallet truck", "loading docks, cold stores and retail back rooms",
           ["Lithium-ion battery with opportunity charging", "Creep-speed button for tight spaces", "Electromagnetic brake"],
           {"capacity": Param("Rated load capacity", _rng(1200, 2500, 100, " kg"), "What is the rated load capacity of the {model}?", "How much weight can the {model} carry on its forks?"),
            "battery": Param("Battery", _of(["24 V / 105 Ah", "24 V / 150 Ah", "24 V / 205 Ah", "48 V / 100 Ah"]), "What battery does the {model} use?", "What kind of power pack is fitted to the {model}?"),
            "speed": Param("Travel speed, laden", _of(["4.5 km/h", "5.0 km/h", "5.5 km/h", "6.0 km/h"]), "What is the laden travel speed of the {model}?", "How fast does the {model} go with a full load?"),
            "radius": Param("Turning radius", _rng(1380, 1820, 10, " mm"), "What is the turning radius of the {model}?", "How tight a circle can the {model} turn in?")},
           ("Have the {model} inspected by a trained technician every {value} operating hours; the drive wheel is part {part}.", _of(["250", "500", "1000"])),
           "Load backrest extension"),
    Series("industrial water chiller", "cooling of injection moulding machines, lasers and process water",
           ["Scroll compressor with electronic expansion valve", "Stainless-steel tank and pump", "Alarm relay for low flow and high temperature"],
           {"cooling": Param("Cooling capacity", _rng(5, 60, 1, " kW"), "What is the cooling capacity of the {model}?", "How much heat can the {model} take away?"),
            "refrigerant": Param("Refrigerant", _of(["R410A", "R32", "R134a", "R513A"]), "Which refrigerant does the {model} use?", "What gas is in the cooling circuit of the {model}?"),
            "flow": Param("Rated water flow", _rng(20, 180, 5, " L/min"), "What is the rated water flow of the {model}?", "How much water per minute circulates through the {model}?"),
            "tank": Param("Tank volume", _of(["40 L", "60 L", "100 L", "150 L"]), "What is the tank volume of the {model}?", "How much water does the {model} hold?")},
           ("Clean the condenser fins every {value} months, more often in dusty halls; the Y-strainer element is part {part}.", _of(["1", "3", "6"])),
           "Bypass valve kit"),
]

ZH_SERIES = [
    Series("光纤激光打标机", "金属铭牌、零部件二维码和包装批号的永久标记",
           ["进口振镜，打标速度快、精度高", "风冷散热，无需外接冷水机", "支持二维码、条形码和序列号自动跳号"],
           {"laser": Param("激光功率", _of(["20 W", "30 W", "50 W", "100 W"]), "{model}的激光功率是多少？", "{model}的出光有多大瓦数？"),
            "field": Param("打标范围", _of(["110×110 mm", "175×175 mm", "200×200 mm", "300×300 mm"]), "{model}的打标范围是多少？", "{model}一次最大能刻多大面积？"),
            "speed": Param("打标速度", _rng(7000, 12000, 500, " mm/s"), "{model}的打标速度是多少？", "{model}刻字有多快？"),
            "repeat": Param("重复定位精度", _of(["±0.001 mm", "±0.002 mm", "±0.003 mm"]), "{model}的重复定位精度是多少？", "{model}反复打同一个位置能准到什么程度？"),
            "power": Param("整机功率", _rng(400, 1500, 50, " W"), "{model}的整机功率是多少？", "{model}开起来耗电多少瓦？")},
           ("每运行{value}小时应清洁一次场镜，场镜保护片备件编号为{part}。", _of(["100", "200", "500"])),
           "旋转夹具"),
    Series("工业除湿机", "仓库、车间、地下室和档案室等高湿场所",
           ["微电脑控制，湿度可在30%至90%之间设定", "满水自动停机并报警", "配万向轮，移动方便"],
           {"capacity": Param("除湿量（30℃，80%RH）", _rng(90, 480, 10, " L/天"), "{model}的除湿量是多少？", "{model}一天能从空气里抽出多少水？"),
            "airflow": Param("循环风量", _rng(800, 4800, 100, " m³/h"), "{model}的循环风量是多少？", "{model}每小时能吹多少空气？"),
            "area": Param("适用面积", _rng(80, 600, 20, " m²"), "{model}的适用面积是多少？", "{model}放在多大的房间里合适？"),
            "power": Param("额定功率", _rng(1200, 9000, 100, " W"), "{model}的额定功率是多少？", "{model}用起来费多少电？"),
            "weight": Param("整机重量", _rng(45, 260, 5, " kg"), "{model}的整机重量是多少？", "{model}有多沉？")},
           ("过滤网应每{value}天清洗一次，更换滤网的备件编号为{part}。", _of(["7", "15", "30"])),
           "排水泵组件"),
    Series("工商业储能柜", "工厂和园区的削峰填谷、需量管理和应急备电",
           ["磷酸铁锂电芯，安全性高", "液冷温控，电芯温差小于3℃", "内置消防系统和能量管理系统"],
           {"energy": Param("额定容量", _of(["100 kWh", "215 kWh", "233 kWh", "372 kWh", "418 kWh"]), "{model}的额定容量是多少？", "{model}能存多少度电？"),
            "power": Param("额定功率", _of(["50 kW", "100 kW", "125 kW", "200 kW"]), "{model}的额定功率是多少？", "{model}充放电最大能到多少千瓦？"),
            "cycles": Param("循环寿命", _of(["6000次（80% EOL）", "8000次（70% EOL）", "10000次（70% EOL）"]), "{model}的循环寿命是多少？", "{model}的电池能反复充放多少回？"),
            "ip": Param("防护等级", _of(["IP54", "IP55", "IP65"]), "{model}的防护等级是多少？", "{model}放在室外防不防雨？"),
            "mass": Param("整柜重量", _of(["1.8 t", "2.4 t", "2.9 t", "3.6 t"]), "{model}的整柜重量是多少？", "{model}整个柜子有多重？")},
           ("应每{value}个月对电池簇进行一次均衡维护，冷却液更换套件编号为{part}。", _of(["3", "6", "12"])),
           "远程监控网关"),
    Series("带式输送机", "散料和成件物品在车间、仓库之间的连续输送",
           ["模块化机架，长度可按需拼接", "变频调速，启停平稳", "防跑偏托辊和急停拉绳开关"],
           {"width": Param("带宽", _of(["500 mm", "650 mm", "800 mm", "1000 mm"]), "{model}的带宽是多少？", "{model}的皮带有多宽？"),
            "speed": Param("带速", _of(["0.8 m/s", "1.0 m/s", "1.25 m/s", "1.6 m/s", "2.0 m/s"]), "{model}的带速是多少？", "{model}的皮带跑得有多快？"),
            "throughput": Param("输送能力", _rng(40, 400, 10, " t/h"), "{model}的输送能力是多少？", "{model}一个小时能运多少吨货？"),
            "motor": Param("电机功率", _of(["3 kW", "4 kW", "5.5 kW", "7.5 kW", "11 kW"]), "{model}的电机功率是多少？", "{model}配的马达有多大？"),
            "incline": Param("最大倾角", _of(["12°", "15°", "18°"]), "{model}的最大倾角是多少？", "{model}最陡能斜着装到多少度？")},
           ("减速机应每运行{value}小时更换一次润滑油，托辊备件编号为{part}。", _of(["2000", "3000", "5000"])),
           "清扫器"),
    Series("螺杆空气压缩机", "机加工、喷涂和包装生产线的压缩空气供应",
           ["永磁变频电机，节能30%以上", "一体化冷干机", "触摸屏控制器，支持远程监控"],
           {"fad": Param("排气量", _of(["1.2 m³/min", "1.7 m³/min", "2.4 m³/min", "3.6 m³/min", "6.2 m³/min"]), "{model}的排气量是多少？", "{model}每分钟能打出多少气？"),
            "pressure": Param("额定排气压力", _of(["0.7 MPa", "0.8 MPa", "1.0 MPa", "1.3 MPa"]), "{model}的额定排气压力是多少？", "{model}出来的气压有多高？"),
            "motor": Param("电机功率", _of(["7.5 kW", "11 kW", "15 kW", "22 kW", "37 kW"]), "{model}的电机功率是多少？", "{model}的电机有多大劲？"),
            "noise": Param("运行噪声", _rng(62, 75, 1, " dB(A)"), "{model}的运行噪声是多少？", "{model}开起来吵不吵，有多少分贝？")},
           ("首次运行500小时后更换机油，此后每{value}小时更换一次，保养套件编号为{part}。", _of(["2000", "3000", "4000"])),
           "储气罐"),
    Series("智能电能表", "工厂、楼宇的分项计量和远程抄表",
           ["支持分时计费和最大需量记录", "事件记录：开盖、掉电、失压", "支持远程拉合闸"],
           {"accuracy": Param("准确度等级", _of(["有功0.5S级", "有功1级", "有功0.2S级"]), "{model}的准确度等级是多少？", "{model}计量准不准，是什么级别？"),
            "current": Param("电流规格", _of(["1.5(6) A", "5(60) A", "10(100) A", "0.3(1.2) A"]), "{model}的电流规格是多少？", "{model}能接多大电流？"),
            "comms": Param("通信方式", _of(["RS485", "HPLC载波", "4G", "NB-IoT"]), "{model}的通信方式是什么？", "{model}是用什么方式把读数传回去的？"),
            "life": Param("设计寿命", _of(["10年", "12年", "16年"]), "{model}的设计寿命是多少？", "{model}能用多少年？")},
           ("表计应每{value}年进行一次现场校验，封印备件编号为{part}。", _of(["2", "4", "6"])),
           "导轨安装支架"),
    Series("风冷式冷水机", "注塑机、激光器和工艺用水的冷却",
           ["涡旋压缩机，电子膨胀阀", "不锈钢水箱和水泵", "低流量、高温报警输出"],
           {"cooling": Param("制冷量", _rng(5, 80, 1, " kW"), "{model}的制冷量是多少？", "{model}能带走多少热量？"),
            "refrigerant": Param("制冷剂", _of(["R410A", "R32", "R134a", "R22"]), "{model}用的是什么制冷剂？", "{model}里面加的是哪种冷媒？"),
            "flow": Param("冷冻水流量", _rng(20, 200, 5, " L/min"), "{model}的冷冻水流量是多少？", "{model}每分钟能循环多少水？"),
            "tank": Param("水箱容积", _of(["40 L", "60 L", "100 L", "200 L"]), "{model}的水箱容积是多少？", "{model}能装多少水？")},
           ("冷凝器翅片应每{value}个月清洁一次，Y型过滤器滤芯编号为{part}。", _of(["1", "2", "3"])),
           "旁通阀组件"),
    Series("工业手持终端", "仓储收发货、盘点和生产工序报工",
           ["安卓系统，支持企业应用管理", "一维、二维扫描头", "支持NFC和超高频RFID扩展"],
           {"screen": Param("屏幕尺寸", _of(["4.0英寸", "5.0英寸", "5.5英寸", "6.0英寸"]), "{model}的屏幕尺寸是多少？", "{model}的显示屏有多大？"),
            "battery": Param("电池容量", _rng(3800, 7000, 100, " mAh"), "{model}的电池容量是多少？", "{model}的电池有多大？"),
            "runtime": Param("续航时间", _of(["10小时", "12小时", "14小时", "16小时"]), "{model}的续航时间是多少？", "{model}充一次电能用多久？"),
            "drop": Param("跌落高度", _of(["1.2 m", "1.5 m", "1.8 m"]), "{model}的抗跌落高度是多少？", "{model}从多高摔下来不会坏？"),
            "ip": Param("防护等级", _of(["IP54", "IP65", "IP67", "IP68"]), "{model}的防护等级是多少？", "{model}防水防尘做得怎么样？")},
           ("电池建议每充放电{value}次后更换，电池备件编号为{part}。", _of(["300", "500", "800"])),
           "充电座"),
]

def _a(word: str) -> str:
    """The indefinite article for `word` ("an uninterruptible", "an 18-month")."""
    return "an" if word[0] in "aeiou" or word.startswith(("8", "11", "18")) else "a"


PREFIXES = ["KX", "TR", "HM", "VZ", "LP", "DS", "QM", "RB", "GX", "NE", "PW", "SC", "MT", "FA", "ZL", "BY"]


def _write(w: World, lang: str, series: Series, org, model: str, sibling: str, values: dict, service: str,
           warranty: int, part: str, acc_part: str, r: random.Random) -> Doc:
    family = f"{lang}-spec-{model[:-1]}"
    zh = lang == "zh"
    title = f"{model} {series.product}产品技术规格书" if zh else f"{model} {series.product[0].upper()}{series.product[1:]}: Technical Specification"
    d = Doc(lang, "spec", family, title, r.choice(["md", "md", "txt"]))
    service_text = series.service[0].format(value=service, part=part, model=model)
    if zh:
        d.h("一、产品概述")
        d.p(f"{model}是{org.name}为{series.use}设计的{series.product}。",
            f"同系列的{sibling}在外形和接口上与本机相同，主要区别见技术参数表。",
            "本规格书所列参数均在标准工况下测得，实际使用效果受环境条件影响。")
        d.h("二、主要特点")
        d.items(series.features)
        d.h("三、技术参数")
    else:
        d.h("Overview")
        d.p(f"The {model} is {_a(series.product)} {series.product} made by {org.name} for {series.use}.",
            f"Its sibling, the {sibling}, shares the housing and connections; the differences are in the specification table below.",
            "Figures are measured under standard test conditions and may vary on site.")
        d.h("Key features")
        d.items(series.features)
        d.h("Specifications")
    rows = [[series.params[k].label, v] for k, v in values.items()]
    table = d.table(["参数", "数值"] if zh else ["Parameter", "Value"], rows)
    for key in r.sample(sorted(values), 3):
        p = series.params[key]
        if r.random() < 0.5:
            d.ask(p.paraphrase.format(model=model), values[key], d.row(table, p.label), "paraphrase")
        else:
            d.ask(p.literal.format(model=model), values[key], d.row(table, p.label), "identifier")
    if zh:
        d.h("四、安装要求")
        d.p(r.choice(["设备应水平安装在坚固的地面上，四周预留不少于500毫米的检修空间。",
                      "设备应安装在通风良好、无腐蚀性气体的室内，四周留出不少于600毫米的通道。"]),
            "电源应设置独立的空气开关和可靠的接地，接地电阻不大于4欧姆。首次通电前须由厂家或授权服务商检查接线。")
        d.h("五、维护保养")
        svc = d.p(service_text, "保养记录应填写在随机附带的设备履历本中。")
        d.h("六、质保与服务")
        wty = d.p(f"{model}整机质保{warranty}个月，自验收合格之日起计算；质保期内非人为损坏的零部件免费更换。",
                  "服务热线工作日8:30至17:30有人接听，其他时间可在线提交报修单。")
        d.h("七、订货信息")
        acc = d.p(f"可选配件：{series.accessory}，订货号{acc_part}，仅适用于{model}。")
        d.ask(f"{model}多久要保养一次？", service_text, svc, "identifier")
        d.ask(f"{model}的保修期有多长？", f"{warranty}个月", wty, "identifier")
        d.ask(f"订货号{acc_part}是哪台设备的什么配件？", f"{model}的{series.accessory}", acc, "identifier")
    else:
        d.h("Installation")
        d.p(r.choice(["Install the unit on a level, solid floor with at least 500 mm of free space on every side for servicing.",
                      "Install the unit indoors in a ventilated area free of corrosive vapours, leaving at least 600 mm of access space around it."]),
            "Connect it to a dedicated, earthed supply protected by its own circuit breaker. The first start-up should be carried out by the manufacturer or an authorised service partner.")
        d.h("Maintenance")
        svc = d.p(service_text, "Record every service in the equipment logbook supplied with the unit.")
        d.h("Warranty and support")
        wty = d.p(f"The {model} carries {_a(str(warranty))} {warranty}-month warranty from the date of commissioning, covering parts and labour for faults not caused by misuse.",
                  "Support is available by phone on working days and through the online service portal at any time.")
        d.h("Ordering")
        acc = d.p(f"Optional accessory: {series.accessory.lower()}, order code {acc_part}, for the {model} only.")
        d.ask(f"What routine maintenance does the {model} need, and how often?", service_text, svc, "identifier")
        d.ask(f"How long is the warranty on the {model}?", f"{warranty} months", wty, "identifier")
        d.ask(f"Which product is accessory {acc_part} for?", f"the {model} ({series.accessory.lower()})", acc, "identifier")
    spec_extra(d, r)
    return d


def _pair(w: World, lang: str, series: Series, org) -> list[Doc]:
    r = w.rng
    base = w.unique(lambda: f"{r.choice(PREFIXES)}-{r.randrange(110, 990, 10)}")
    a, b = f"{base}A", f"{base}B"
    values = {k: p.draw(r) for k, p in series.params.items()}
    other = dict(values)
    for key in r.sample(sorted(series.params), len(series.params) - 1):
        while other[key] == values[key]:
            other[key] = series.params[key].draw(r)
    service_a = series.service[1](r)
    service_b = service_a if r.random() < 0.5 else series.service[1](r)
    warranty_a = r.choice([12, 18, 24, 36])
    warranty_b = warranty_a if r.random() < 0.5 else r.choice([12, 18, 24, 36])
    docs = []
    for model, sibling, vals, service, warranty in ((a, b, values, service_a, warranty_a), (b, a, other, service_b, warranty_b)):
        part = w.code(base[:2] + "-S####")
        acc_part = w.code(base[:2] + "-ACC-###")
        docs.append(_write(w, lang, series, org, model, sibling, vals, service, warranty, part, acc_part, w.sub(model)))
    return docs


def build(w: World) -> list[Doc]:
    docs = []
    for i, series in enumerate(EN_SERIES):
        docs += _pair(w, "en", series, EN_ORGS[i % len(EN_ORGS)])
    for i, series in enumerate(ZH_SERIES):
        docs += _pair(w, "zh", series, ZH_ORGS[i % len(ZH_ORGS)])
    return docs

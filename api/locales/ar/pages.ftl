# The words of the donor-facing pages in this language (Project Fluent).

## donate

donate-title = تبرّعوا للدفاع عن المهاجرين
donate-intro = تبرعكم يدفع أتعاب محامين يقفون إلى جانب المهاجرين المهددين بالترحيل.
donate-frequency = عدد المرات
donate-once = مرة واحدة
donate-monthly = شهرياً
donate-amount = المبلغ (بالدولار الأمريكي)
donate-other-amount = مبلغ آخر
donate-fund = وجهة تبرعكم
donate-tribute = التبرع تكريماً لشخص أو إحياءً لذكراه (اختياري)
donate-tribute-none = بدون إهداء
donate-in-honor = تكريماً لـ
donate-in-memory = إحياءً لذكرى
donate-tribute-name = اسم من يُهدى إليه التبرع
donate-notify-name = من نُبلغ؟ (الاسم)
donate-notify-email = البريد الإلكتروني لمن نُبلغه
donate-tribute-show-amount = اذكروا قيمة تبرعي في الإبلاغ
donate-about-you = معلوماتكم
donate-name = الاسم
donate-email = البريد الإلكتروني
donate-consent = أرسلوا لي الأخبار والنداءات بالبريد الإلكتروني
donate-anonymous = لا تذكروا اسمي مع تبرعي
donate-submit = المتابعة إلى الدفع الآمن
donate-secure = يتم الدفع على صفحة Stripe الآمنة. لا نرى رقم البطاقة أبداً.
donate-errors-heading = يرجى تصحيح ما يلي:
donate-err-frequency = اختاروا مرة واحدة أو شهرياً.
donate-err-amount = اختاروا مبلغاً أو اكتبوه، مثل 25 أو 25,50.
donate-err-amount-range = يجب أن يكون المبلغ بين 1,00 و100.000,00 دولار.
donate-err-fund = اختاروا وجهة تبرعكم.
donate-err-tribute-kind = اختاروا التكريم أو إحياء الذكرى.
donate-err-tribute-name = اكتبوا اسم من يُهدى إليه تبرعكم.
donate-err-notify-name = اكتبوا اسم الشخص المراد إبلاغه في سطر واحد، بحد أقصى 200 حرف.
donate-err-notify-email = اكتبوا بريداً إلكترونياً صحيحاً للشخص المراد إبلاغه، أو اتركوه فارغاً.
donate-err-name = اكتبوا اسمكم.
donate-err-email = اكتبوا بريداً إلكترونياً صحيحاً، مثل name@example.org.
donate-unavailable = تعذّر الاتصال بمعالج الدفع، ولم يُخصم أي مبلغ. يرجى المحاولة بعد قليل.
donate-raised = تم جمعه
donate-goal = الهدف
donate-thanks-title = شكراً لكم
donate-thanks-paid = وصلنا تبرعكم. سيصلكم الإيصال بالبريد الإلكتروني.
donate-thanks-processing = ما زالت عملية الدفع قيد المعالجة. سنرسل إيصالكم فور اكتمالها.
donate-thanks-failed = لم تكتمل عملية الدفع، ولم يُخصم أي مبلغ.
donate-thanks-unknown = نتحقق من تبرعكم مع معالج الدفع. سيصلكم الإيصال بالبريد الإلكتروني.
donate-cancelled-title = لم يكتمل تبرعكم
donate-cancelled-body = لم يُخصم أي مبلغ. يمكنكم المحاولة مجدداً متى شئتم.
donate-try-again = حاولوا مجدداً
donate-required = مطلوب

## manage

manage-title = تعهّداتكم بالتبرع
manage-invalid = هذا الرابط غير صالح. يُرجى استخدام أحدث رابط أرسلناه إليك بالبريد الإلكتروني.
manage-expired = انتهت صلاحية هذا الرابط. ستحمل رسالتنا القادمة رابطًا جديدًا، أو راسلونا.
manage-none = ليست لديكم تعهّدات بالتبرع.
manage-unavailable = هذه الصفحة غير متاحة الآن. يُرجى المحاولة بعد بضع دقائق.
manage-month = شهريًا
manage-quarter = كل ثلاثة أشهر
manage-year = سنويًا
manage-since = منذ
manage-active = نشط
manage-paused = متوقف مؤقتًا
manage-past-due = دفعة مستحقة
manage-cancelled = ملغى
manage-completed = مكتمل
manage-new-amount = المبلغ الجديد
manage-change-amount = تغيير المبلغ
manage-pause = إيقاف مؤقت
manage-resume = استئناف
manage-confirm-cancel = نعم، أريد إلغاء هذا التعهّد
manage-cancel = إلغاء التعهّد
manage-update-card = تحديث بطاقتي
manage-done-here = تمّ. جرى تحديث تعهّدكم. شكرًا لكم.
manage-done-at-processor = شكرًا لكم. أُرسل التغيير إلى معالج البطاقات لدينا وسيظهر هنا خلال بضع دقائق.
manage-bad-amount = يُرجى كتابة المبلغ الجديد بالدولار، مثل 42 أو 42,50.
manage-needs-confirmation = للإلغاء، يُرجى تحديد المربع الذي يؤكد ذلك.
manage-cannot-change = لا يمكن تغيير هذا التعهّد بهذه الطريقة الآن.
manage-no-card = لا توجد لدينا بطاقة مسجّلة باسمكم.
manage-try-later = تعذّر الوصول إلى معالج البطاقات لدينا. يُرجى المحاولة بعد بضع دقائق.

## guard

guard-honeypot-label = اتركوا هذا الحقل فارغاً
guard-minimum-hint = أقل تبرع تقبله هذه الصفحة هو { $minimum }.
guard-below-minimum = يجب ألا يقل المبلغ عن { $minimum }.
guard-form-expired = حرصاً على أمانكم، انتهت صلاحية هذا النموذج. يرجى مراجعة تبرعكم وإرساله مجدداً؛ لم يُخصم أي مبلغ.
guard-refused-title = تعذّر قبول هذا النموذج
guard-refused-body = يرجى فتح صفحة التبرع لدينا وإرسال تبرعكم منها. لم يُخصم أي مبلغ.
guard-back-to-form = الذهاب إلى صفحة التبرع
guard-busy-title = يرجى الانتظار قليلاً
guard-busy-body = لحماية المتبرعين من احتيال البطاقات، لا نقبل إلا عدداً قليلاً من التبرعات من المكان نفسه في وقت قصير. يرجى المحاولة مجدداً بعد { $minutes ->
    [one] دقيقة تقريباً
    [two] دقيقتين تقريباً
    [few] نحو { $minutes } دقائق
   *[other] نحو { $minutes } دقيقة
}. لم يُخصم أي مبلغ.

## the layout and words every page shares

language-name = العربية
layout-language = اللغة
page-error = حدث خطأ ما. يرجى المحاولة لاحقاً.
money = { $currency ->
    [USD] { $amount } $
   *[other] { $amount } { $currency }
}
month-1 = يناير
month-2 = فبراير
month-3 = مارس
month-4 = أبريل
month-5 = مايو
month-6 = يونيو
month-7 = يوليو
month-8 = أغسطس
month-9 = سبتمبر
month-10 = أكتوبر
month-11 = نوفمبر
month-12 = ديسمبر
date-long = { $day } { $month } { $year }
amount-ambiguous = يمكن قراءة هذا المبلغ بطريقتين. اكتبوا ألف دولار هكذا { $thousand } والسنتات بعد الفاصلة، مثل { $example }.

## donate, more

donate-page-unavailable = صفحة التبرع غير متاحة الآن؛ يرجى المحاولة بعد قليل.
donate-circle-note = { $monthly } شهرياً تضمّكم إلى { $circle }، لمن يتبرع بـ{ $yearly } أو أكثر سنوياً.
donate-campaign-ended = انتهت حملة { $campaign }: جُمع { $raised } من هدف قدره { $goal }. شكراً لكل من تبرّع.

## circle

circle-untitled = الدائرة
circle-unavailable = هذه الصفحة غير متاحة الآن.
circle-intro = شكرًا للأصدقاء الذين يدعمون عملنا بتعهّد قدره { $yearly } أو أكثر في السنة.
circle-empty = سنشكر هنا قريبًا أول أعضائنا.
circle-join-heading = انضمّوا إليهم
circle-join = تبرّعوا بـ{ $monthly } شهرياً للانضمام إلى { $circle }

## manage, more

manage-since-date = منذ { $date }

## unsubscribe

unsubscribe-title = رسائل النداءات
unsubscribe-confirm-title = إيقاف رسائل النداءات؟
unsubscribe-confirm-body = لن تصلكم نداءات جمع التبرعات منا بعد الآن. وستظل إيصالات تبرعاتكم وكشوف نهاية العام تصلكم.
unsubscribe-button = إلغاء الاشتراك
unsubscribe-done-title = تم إلغاء اشتراككم
unsubscribe-done-body = لن نرسل مزيداً من النداءات. وستظل إيصالات تبرعاتكم تصلكم.
unsubscribe-gone = لم يعد لدينا سجل لهذا العنوان، لذا لن تصله أي نداءات.
unsubscribe-invalid = رابط إلغاء الاشتراك هذا غير صالح. ردّوا على أي من رسائلنا وسنوقفها.
